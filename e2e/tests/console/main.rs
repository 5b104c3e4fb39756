//! The operators' console in a real headless Chromium (Debian's chromium, through
//! chromedriver), in front of the whole stack on the real PostgreSQL and RabbitMQ: what an
//! operator sees and does on each page. Screenshots of the pages go to
//! `target/console-screenshots/`.

mod browser;
mod dead_letters;
mod events;
mod fixture;
mod overview;
mod projections;
mod sign_in;
mod stopped;
