//! A tiny blocking client of the text protocol for process tests: send raw bytes, read exact
//! answers (a line, or a `VALUE` header and its value).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One connection to a node's text port.
pub struct TextClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl TextClient {
    /// Connects to `127.0.0.1:port`; every read gives up after 5 s so a missing answer fails the
    /// test instead of hanging it.
    pub fn connect(port: u16) -> TextClient {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the text port");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        let writer = stream.try_clone().expect("clone stream");
        TextClient {
            reader: BufReader::new(stream),
            writer,
        }
    }

    /// Sends bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }

    /// Reads one answer line, without its `\r\n` (which must be there).
    pub fn line(&mut self) -> String {
        let mut line = Vec::new();
        self.reader
            .read_until(b'\n', &mut line)
            .expect("answer line");
        assert!(
            line.ends_with(b"\r\n"),
            "answer not ended by \\r\\n: {:?}",
            String::from_utf8_lossy(&line)
        );
        line.truncate(line.len() - 2);
        String::from_utf8(line).expect("UTF-8 answer line")
    }

    /// Reads one answer: a line, or for `VALUE ... <numbytes>` the line then the value, returned
    /// as `VALUE ...\r\n<value>`.
    pub fn answer(&mut self) -> Vec<u8> {
        let line = self.line();
        let mut answer = line.clone().into_bytes();
        if line.starts_with("VALUE ") {
            let numbytes: usize = line
                .rsplit(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("VALUE ends with its byte count");
            let mut value = vec![0; numbytes + 2];
            self.reader.read_exact(&mut value).expect("value");
            assert!(value.ends_with(b"\r\n"), "value not ended by \\r\\n");
            value.truncate(numbytes);
            answer.extend_from_slice(b"\r\n");
            answer.extend_from_slice(&value);
        }
        answer
    }

    /// Sends one command and reads its answer as text.
    pub fn call(&mut self, command: &[u8]) -> String {
        self.send(command);
        String::from_utf8(self.answer()).expect("UTF-8 answer")
    }

    /// `set` with the right byte count; returns the new version (panics on any other answer).
    pub fn set(&mut self, key: &str, exptime: u64, value: &[u8]) -> u64 {
        let mut command = format!("set {key} {exptime} {}\r\n", value.len()).into_bytes();
        command.extend_from_slice(value);
        command.extend_from_slice(b"\r\n");
        let answer = self.call(&command);
        version_of(&answer)
    }
}

/// The version in `OK <version>`.
pub fn version_of(answer: &str) -> u64 {
    answer
        .strip_prefix("OK ")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("expected OK <version>, got {answer:?}"))
}
