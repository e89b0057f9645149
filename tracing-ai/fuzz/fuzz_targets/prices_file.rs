//! The prices-file parser on arbitrary bytes: any text is either prices or an error naming
//! what is wrong, never a panic, an abort or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match tracing_ai::__private::parse_prices_file(text) {
        Ok(_) => {}
        // Every error says something, at a line within the text when it names one.
        Err(error) => {
            let message = error.to_string();
            assert!(!message.is_empty());
            if let Some(line) = error.line() {
                assert!(line >= 1 && line <= text.split('\n').count());
            }
        }
    }
});
