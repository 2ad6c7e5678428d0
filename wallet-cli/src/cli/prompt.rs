//! Asking for a secret on the terminal without showing it, and without ever leaving the
//! terminal with its echo off: the terminal's settings are restored when the answer is read,
//! when reading fails, and when the user presses Ctrl-C (which is read as a key here, so that
//! no signal kills the process before the settings are put back).

use std::io;

/// The answer was not given: the user pressed Ctrl-C, or closed the input (Ctrl-D).
pub(crate) const INTERRUPTED: &str = "interrupted at the prompt; nothing was changed";

/// Reads a line from the controlling terminal (`/dev/tty`) without echo, after writing
/// `prompt` there. Ctrl-C and Ctrl-D on an empty line are `Interrupted`.
pub(crate) fn hidden(prompt: &str) -> io::Result<String> {
    #[cfg(unix)]
    {
        let tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty")?;
        unix::hidden_on(&tty, prompt)
    }
    #[cfg(not(unix))]
    {
        rpassword::prompt_password(prompt)
    }
}

#[cfg(unix)]
mod unix {
    use std::fs::File;
    use std::io::{self, Read, Write};

    use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions, SpecialCodeIndex, Termios};

    /// Puts the terminal's settings back when dropped.
    struct Restore<'a> {
        tty: &'a File,
        saved: Termios,
    }

    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            let _ = tcsetattr(self.tty, OptionalActions::Now, &self.saved);
        }
    }

    /// [`super::hidden`] on an open terminal.
    pub(super) fn hidden_on(tty: &File, prompt: &str) -> io::Result<String> {
        let saved = tcgetattr(tty)?;
        let mut quiet = saved.clone();
        // No echo, keys one by one (so Ctrl-C is seen at once), and Ctrl-C as a key rather
        // than a signal.
        quiet.local_modes.remove(LocalModes::ECHO | LocalModes::ICANON | LocalModes::ISIG);
        quiet.special_codes[SpecialCodeIndex::VMIN] = 1;
        quiet.special_codes[SpecialCodeIndex::VTIME] = 0;
        let restore = Restore { tty, saved };
        tcsetattr(tty, OptionalActions::Flush, &quiet)?;
        // The prompt once the terminal is quiet: whatever is typed after it is not shown.
        let mut out = tty;
        out.write_all(prompt.as_bytes())?;
        out.flush()?;
        let answer = read_line(tty);
        drop(restore);
        let mut out = tty;
        let _ = out.write_all(b"\n");
        answer
    }

    /// Reads keys up to Enter: backspace removes the last character, Ctrl-U the whole line,
    /// Ctrl-C (or Ctrl-D on an empty line, or the end of input) interrupts.
    fn read_line(tty: &File) -> io::Result<String> {
        let mut line: Vec<u8> = Vec::new();
        let mut key = [0u8; 1];
        let mut input = tty;
        loop {
            if input.read(&mut key)? == 0 {
                return Err(io::Error::new(io::ErrorKind::Interrupted, super::INTERRUPTED));
            }
            match key[0] {
                b'\r' | b'\n' => break,
                0x03 => return Err(io::Error::new(io::ErrorKind::Interrupted, super::INTERRUPTED)),
                0x04 if line.is_empty() => {
                    return Err(io::Error::new(io::ErrorKind::Interrupted, super::INTERRUPTED));
                }
                0x7f | 0x08 => {
                    // Remove the last character, not just its last byte.
                    while let Some(b) = line.pop() {
                        if b & 0xC0 != 0x80 {
                            break;
                        }
                    }
                }
                0x15 => line.clear(),
                b => line.push(b),
            }
            if line.len() > 64 * 1024 {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "the answer is longer than 64 KiB"));
            }
        }
        String::from_utf8(line).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the answer is not UTF-8"))
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};

        /// A pseudo-terminal: the side a user types into, and the terminal the prompt reads.
        fn pty() -> (File, File) {
            let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
            grantpt(&master).expect("grantpt");
            unlockpt(&master).expect("unlockpt");
            let name = ptsname(&master, Vec::new()).expect("ptsname");
            let slave = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(name.to_str().expect("name"))
                .expect("open the terminal");
            (File::from(master), slave)
        }

        fn echo_on(tty: &File) -> bool {
            let t = tcgetattr(tty).expect("tcgetattr");
            t.local_modes.contains(LocalModes::ECHO | LocalModes::ICANON | LocalModes::ISIG)
        }

        fn ask(keys: &'static [u8]) -> (io::Result<String>, bool) {
            let (mut user, tty) = pty();
            assert!(echo_on(&tty), "a new terminal echoes");
            let (done, wait) = std::sync::mpsc::channel::<()>();
            let typing = std::thread::spawn(move || {
                // Type once the prompt shows, as a user does.
                let mut seen = Vec::new();
                let mut b = [0u8; 64];
                while !String::from_utf8_lossy(&seen).contains("passphrase: ") {
                    let n = user.read(&mut b).expect("read the prompt");
                    seen.extend_from_slice(&b[..n]);
                }
                user.write_all(keys).expect("type");
                // Keep the user's side open until the prompt is done.
                let _ = wait.recv();
            });
            let answer = hidden_on(&tty, "passphrase: ");
            let restored = echo_on(&tty);
            let _ = done.send(());
            let _ = typing.join();
            (answer, restored)
        }

        #[test]
        fn the_answer_is_read_and_the_terminal_restored() {
            let (answer, restored) = ask(b"corr\x7fect horse\r");
            assert_eq!(answer.expect("answer"), "corect horse");
            assert!(restored, "echo is back on");
        }

        #[test]
        fn ctrl_c_interrupts_and_restores_the_terminal() {
            let (answer, restored) = ask(b"half\x03typed\r");
            let e = answer.expect_err("interrupted");
            assert_eq!(e.kind(), io::ErrorKind::Interrupted);
            assert!(e.to_string().contains("nothing was changed"), "{e}");
            assert!(restored, "echo is back on after Ctrl-C");
        }

        #[test]
        fn ctrl_d_on_an_empty_line_interrupts() {
            let (answer, restored) = ask(b"\x04");
            assert_eq!(answer.expect_err("interrupted").kind(), io::ErrorKind::Interrupted);
            assert!(restored);
        }
    }
}
