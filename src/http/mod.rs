pub mod i18n;
pub mod pages;
