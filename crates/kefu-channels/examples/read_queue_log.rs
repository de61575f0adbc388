//! Measures the queue_log reader alone: reads a file with [`QueueLogReader`]
//! and prints lines per second, calls, and the reader's counters at the end.
//!
//! ```text
//! cargo run --release --example read_queue_log -p kefu-channels -- FILE [--digest N]
//! ```
//!
//! With `--digest N` it also hashes every item (its `Debug` form) and, every N
//! items, the resume point, and prints the hash: two builds that print the same
//! digest for a file yielded the same items in the same order.

use std::fs::File;
use std::hash::{DefaultHasher, Hasher};
use std::io::BufReader;
use std::time::Instant;

use kefu_channels::phone::queue_log::{QueueLogOptions, QueueLogReader};
use kefu_channels::phone::source::{Item, RecordReader};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, digest_every) = match args.as_slice() {
        [path] => (path.clone(), None),
        [path, flag, n] if flag == "--digest" => match n.parse::<u64>() {
            Ok(n) => (path.clone(), Some(n.max(1))),
            Err(_) => usage(),
        },
        _ => usage(),
    };
    let file = File::open(&path)?;
    let size = file.metadata()?.len();
    let input = BufReader::with_capacity(1 << 16, file);
    let mut reader = QueueLogReader::new(input, QueueLogOptions::default());
    let start = Instant::now();
    let (mut calls, mut agents, mut rejected) = (0u64, 0u64, 0u64);
    let mut checksum = 0u64;
    let mut digest = DefaultHasher::new();
    let mut items = 0u64;
    while let Some(item) = reader.next() {
        items += 1;
        if let Some(every) = digest_every {
            digest.write(format!("{item:?}").as_bytes());
            if items.is_multiple_of(every) {
                digest.write_u64(reader.resume_offset());
                digest.write_u64(reader.resume_line());
                digest.write_u64(reader.bytes_read());
            }
        }
        match item {
            Item::Call { call, span } => {
                calls += 1;
                checksum = checksum
                    .wrapping_mul(31)
                    .wrapping_add(call.source_id.len() as u64)
                    .wrapping_add(span.last_line);
            }
            Item::Agent(_) => agents += 1,
            Item::Rejected(_) => rejected += 1,
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let stats = reader.stats();
    println!(
        "{} lines ({size} bytes) in {elapsed:.3} s: {:.0} lines/s, {:.1} MB/s",
        stats.lines,
        stats.lines as f64 / elapsed,
        size as f64 / elapsed / 1e6
    );
    println!("calls {calls}, agent events {agents}, rejected {rejected}, checksum {checksum}");
    println!(
        "resume at offset {} line {}, bytes read {}",
        reader.resume_offset(),
        reader.resume_line(),
        reader.bytes_read()
    );
    if digest_every.is_some() {
        println!("digest {:016x} over {items} items", digest.finish());
    }
    println!("{stats:#?}");
    Ok(())
}

fn usage() -> ! {
    eprintln!("usage: read_queue_log FILE [--digest N]");
    std::process::exit(2)
}
