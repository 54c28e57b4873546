//! Progress of `tresor backup`, `backup verify` and `restore` on the
//! terminal (indicatif on standard error; hidden when that is not a
//! terminal): one bar per stage.

use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressStyle};

use super::{Progress, Stage};

/// A [`Progress`] that draws a bar per stage on standard error.
pub fn terminal() -> Progress {
    let current: Mutex<Option<(Stage, ProgressBar)>> = Mutex::new(None);
    Arc::new(move |stage, done, total| {
        let mut current = current.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if current.as_ref().map(|(shown, _)| *shown) != Some(stage) {
            if let Some((_, bar)) = current.take() {
                bar.finish();
            }
            let bar = ProgressBar::new(total);
            let template = match stage {
                Stage::Archive | Stage::Read => {
                    "{msg:34} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}"
                }
                Stage::Snapshot | Stage::AuditLog => "{msg:34} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}",
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(stage.label());
            *current = Some((stage, bar));
        }
        if let Some((_, bar)) = current.as_ref() {
            bar.set_length(total);
            bar.set_position(done);
            if done >= total {
                bar.finish();
            }
        }
    })
}
