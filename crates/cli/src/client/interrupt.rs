//! Ctrl-C (SIGINT) as a clean end: a command that follows a workspace or reads a stream
//! stops there, leaving things as they are, instead of being killed half-way.

/// Ctrl-C, listened for from when this is made (so a press between two calls is not lost,
/// and does not kill the command half-way) until the command ends.
pub(crate) struct Interrupt(tokio::sync::watch::Receiver<bool>);

impl Interrupt {
    /// Starts listening (the handler is in place from the next await on).
    pub(crate) fn listen() -> Self {
        let (pressed, receiver) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            // Where SIGINT cannot be handled, the command is simply never interrupted here.
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = pressed.send(true);
            }
        });
        Self(receiver)
    }

    /// Whether Ctrl-C has been pressed.
    pub(crate) fn was_pressed(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once Ctrl-C has been pressed (at once if it already was).
    pub(crate) async fn pressed(&mut self) {
        if self.0.wait_for(|pressed| *pressed).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Hands every message of `stream` to `each` until the stream ends, `each` returns false, or
/// Ctrl-C (SIGINT) is pressed: all clean ends. Where no SIGINT handler can be installed (the
/// shell started the command ignoring SIGINT), reading goes on.
pub(crate) async fn each_until_interrupted<T>(
    stream: &mut tonic::Streaming<T>,
    mut each: impl FnMut(T) -> bool,
) -> Result<(), tonic::Status> {
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let mut listening = true;
    loop {
        let next = tokio::select! {
            signal = &mut interrupted, if listening => {
                if signal.is_ok() {
                    return Ok(());
                }
                listening = false;
                continue;
            }
            next = stream.message() => next,
        };
        let Some(message) = next? else {
            return Ok(());
        };
        if !each(message) {
            return Ok(());
        }
    }
}
