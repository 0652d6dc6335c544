//! `read_frame` checks the announced length before it allocates: a header of `FF FF FF FF`
//! must not cost a 4 GiB allocation (or any large one). This test binary counts large
//! allocations with its own global allocator, per thread, so other tests cannot disturb it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Cursor, ErrorKind};

use socket_workbook::framing::{DEFAULT_MAX_FRAME, FrameDecoder, read_frame};

/// Allocations of at least this size count as large.
const LARGE: usize = 1024 * 1024;

thread_local! {
    static LARGE_ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: every call is passed on to the system allocator unchanged; we only count.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE {
            LARGE_ALLOCATIONS.with(|n| n.set(n.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn large_allocations() -> usize {
    LARGE_ALLOCATIONS.with(Cell::get)
}

#[test]
fn a_huge_header_allocates_nothing_large() {
    let before = large_allocations();
    let err = read_frame(&mut Cursor::new([0xFF; 4]), DEFAULT_MAX_FRAME).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME);
    decoder.push(&[0xFF; 4]);
    assert!(decoder.next_frame().is_err());
    assert_eq!(large_allocations(), before, "a large allocation happened");
}

#[test]
fn the_counter_does_count_a_large_frame() {
    // The check above could not fail if the counter never counted: make sure it does.
    let before = large_allocations();
    let mut stream = (2_000_000u32).to_be_bytes().to_vec();
    stream.resize(4 + 2_000_000, 7);
    let frame = read_frame(&mut Cursor::new(stream), DEFAULT_MAX_FRAME)
        .unwrap()
        .unwrap();
    assert_eq!(frame.len(), 2_000_000);
    assert!(large_allocations() > before);
}
