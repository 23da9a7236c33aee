//! The control protocol's decoders: the hello frame, a request frame (length-prefixed JSON),
//! and the client's word form of a command. (The fleet event decoder has its own target,
//! `fleet_decode`.)
#![no_main]

use jailor_proto::frame::{read_frame, read_hello};
use jailor_proto::{Request, MAX_REQUEST_FRAME};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = read_hello(&mut &data[..]);
    let _ = read_frame::<_, Request>(&mut &data[..], MAX_REQUEST_FRAME);
    let mut framed = (data.len() as u32).to_be_bytes().to_vec();
    framed.extend_from_slice(data);
    let _ = read_frame::<_, Request>(&mut &framed[..], MAX_REQUEST_FRAME);
    let text = String::from_utf8_lossy(data);
    let words: Vec<&str> = text.split_whitespace().collect();
    let _ = Request::from_words(&words);
});
