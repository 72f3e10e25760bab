//! A process's Lua heap: one private, 4 GiB-aligned range of address space holding every byte
//! the interpreter allocates, the allocator's own bookkeeping included.
//!
//! Two things follow from keeping *all* of the state in one range:
//! * **Exact rollback**: copying the used part of the range out and back restores the
//!   interpreter to exactly that moment: tables, strings, coroutines, GC state, allocator.
//! * **Determinism of addresses**: allocation is deterministic (size-class free lists for small
//!   blocks, dlmalloc fed by a bump pointer for the rest), and the range starts at a multiple of
//!   4 GiB, so the low 32 bits of every address are the same on every run. Lua hashes tables,
//!   functions and userdata used as keys by those bits, so `pairs` visits them in the same order
//!   everywhere (and `tostring` prints them, see `lua/README.md`).

use std::cell::Cell;
use std::ffi::c_void;
use std::ptr;

use dlmalloc::{Allocator, Dlmalloc};

/// Alignment of the range: 4 GiB, so offsets are the low 32 bits of addresses.
const ALIGN: usize = 1 << 32;
/// What Lua needs: `max_align_t`.
const LUA_ALIGN: usize = 16;
const PAGE: usize = 4096;
/// Blocks up to this size come from per-size free lists: strings, tables, closures and small
/// node arrays, most of what Lua allocates. Lua says each block's size when it frees it, so the
/// lists need no headers, and a pop or push is far cheaper than dlmalloc's bins.
const SMALL: usize = 256;
/// One list per multiple of [`LUA_ALIGN`] up to [`SMALL`].
const CLASSES: usize = SMALL / LUA_ALIGN;
/// Small blocks are cut from slabs of this size, taken from dlmalloc.
const SLAB: usize = 64 << 10;

/// Bookkeeping at the start of the range (so it is saved and restored with the rest).
#[repr(C)]
struct Header {
    heap: Dlmalloc<Bump>,
    /// The first byte not yet handed to dlmalloc.
    brk: Cell<usize>,
    /// Freed small blocks by class (`size / 16 - 1`), linked through their first word.
    free: [usize; CLASSES],
    /// The unused rest of the newest slab.
    slab: usize,
    slab_end: usize,
    /// Bytes the interpreter holds (its own count, as it asks and frees).
    used: usize,
    /// Most bytes the interpreter may hold.
    limit: usize,
}

/// Hands dlmalloc consecutive pieces of the range.
struct Bump {
    brk: *const Cell<usize>,
    end: usize,
}

// SAFETY: the range and the header it points into belong to one instance, which one thread
// uses at a time.
unsafe impl Send for Bump {}

// SAFETY: regions handed out are disjoint, inside the mapping, and never given back.
unsafe impl Allocator for Bump {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        // SAFETY: `brk` points at the header's field, alive as long as the range.
        let brk = unsafe { &*self.brk };
        let start = brk.get();
        let size = size.next_multiple_of(PAGE);
        match start.checked_add(size) {
            Some(end) if end <= self.end => {
                brk.set(end);
                (start as *mut u8, size, 0)
            }
            _ => (ptr::null_mut(), 0, 0),
        }
    }

    fn remap(&self, _ptr: *mut u8, _old: usize, _new: usize, _can_move: bool) -> *mut u8 {
        ptr::null_mut()
    }

    fn free_part(&self, _ptr: *mut u8, _old: usize, _new: usize) -> bool {
        false
    }

    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }

    fn allocates_zeros(&self) -> bool {
        // A restored checkpoint leaves old bytes above its break.
        false
    }

    fn page_size(&self) -> usize {
        PAGE
    }
}

/// See the module doc.
pub(crate) struct Arena {
    /// The whole mapping (with the alignment slack already unmapped).
    base: *mut u8,
    len: usize,
}

// SAFETY: the mapping is private to this instance and used by one thread at a time.
unsafe impl Send for Arena {}

/// The used part of an arena, copied out.
pub(crate) struct Snapshot {
    bytes: Vec<u8>,
}

impl Snapshot {
    /// Bytes it holds.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// The heap bytes.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl Arena {
    /// Reserves address space for a heap of at most `limit` bytes (plus the allocator's
    /// overhead); memory is only committed as it is touched.
    pub(crate) fn new(limit: usize) -> std::io::Result<Self> {
        // Small blocks stay in their class once freed, so the worst pattern (the whole limit in
        // small blocks, freed, then the whole limit in large ones) needs about three times the
        // limit, with dlmalloc's headers and 16 MiB more: address space only, pages are
        // committed as they are touched.
        let len = limit
            .saturating_mul(3)
            .saturating_add(16 << 20)
            .next_multiple_of(PAGE);
        let span = len
            .checked_add(ALIGN)
            .ok_or_else(|| std::io::Error::other("memory limit too large"))?;
        // SAFETY: a fresh anonymous mapping; nothing else refers to it.
        let raw = unsafe {
            libc::mmap(
                ptr::null_mut(),
                span,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let start = raw as usize;
        let base = start.next_multiple_of(ALIGN);
        // SAFETY: both pieces lie inside the mapping just made and outside [base, base+len).
        unsafe {
            if base > start {
                libc::munmap(raw, base - start);
            }
            let tail = base + len;
            let end = start + span;
            if end > tail {
                libc::munmap(tail as *mut c_void, end - tail);
            }
        }
        let arena = Self {
            base: base as *mut u8,
            len,
        };
        let header = arena.header_ptr();
        let heap_start = (base + std::mem::size_of::<Header>()).next_multiple_of(PAGE);
        // SAFETY: the header lies at the start of the fresh, writable mapping.
        unsafe {
            ptr::write(
                header,
                Header {
                    heap: Dlmalloc::new_with_allocator(Bump {
                        brk: ptr::addr_of!((*header).brk),
                        end: base + len,
                    }),
                    brk: Cell::new(heap_start),
                    free: [0; CLASSES],
                    slab: 0,
                    slab_end: 0,
                    used: 0,
                    limit,
                },
            );
        }
        Ok(arena)
    }

    fn header_ptr(&self) -> *mut Header {
        self.base.cast()
    }

    /// The `ud` to give `lua_newstate` with [`lua_alloc`].
    pub(crate) fn userdata(&self) -> *mut c_void {
        self.header_ptr().cast()
    }

    /// Bytes the interpreter holds.
    pub(crate) fn used(&self) -> usize {
        // SAFETY: the header is initialised in `new` and lives as long as `self`.
        unsafe { (*self.header_ptr()).used }
    }

    /// Bytes of the range in use (up to the break).
    fn extent(&self) -> usize {
        // SAFETY: as in `used`.
        unsafe { (*self.header_ptr()).brk.get() - self.base as usize }
    }

    /// Copies the used part out. (A fresh buffer each time: reusing the last one measured
    /// slower here, its idle pages being reclaimed and faulted back in.)
    pub(crate) fn snapshot(&self) -> Snapshot {
        let extent = self.extent();
        let mut bytes = Vec::with_capacity(extent);
        // SAFETY: [base, base+extent) is mapped and initialised (touched pages or zeros).
        unsafe {
            ptr::copy_nonoverlapping(self.base, bytes.as_mut_ptr(), extent);
            bytes.set_len(extent);
        }
        Snapshot { bytes }
    }

    /// Puts a snapshot back: the heap is exactly as it was when it was taken. Pages above it
    /// are handed back to the system.
    pub(crate) fn restore(&mut self, snapshot: &Snapshot) {
        let before = self.extent();
        // SAFETY: the snapshot came from this arena, so it fits; no Lua code runs meanwhile.
        unsafe {
            ptr::copy_nonoverlapping(snapshot.bytes.as_ptr(), self.base, snapshot.bytes.len());
            let from = snapshot.bytes.len().next_multiple_of(PAGE);
            if before > from {
                libc::madvise(
                    self.base.add(from).cast(),
                    before - from,
                    libc::MADV_DONTNEED,
                );
            }
        }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours; the interpreter using it is closed or abandoned first.
        unsafe {
            libc::munmap(self.base.cast(), self.len);
        }
    }
}

impl Header {
    /// A block of `size` (at most [`SMALL`]) bytes: the class's last freed one, or a new one
    /// cut from the slab.
    fn small_alloc(&mut self, size: usize) -> *mut u8 {
        let class = size.div_ceil(LUA_ALIGN).max(1) - 1;
        let head = self.free[class];
        if head != 0 {
            // SAFETY: a freed block of this class: its first word links the next one.
            self.free[class] = unsafe { *(head as *const usize) };
            return head as *mut u8;
        }
        let bytes = (class + 1) * LUA_ALIGN;
        if self.slab_end - self.slab < bytes {
            // The rest of the old slab (less than one block of this class) is left unused.
            // SAFETY: plain allocation.
            let slab = unsafe { self.heap.malloc(SLAB, LUA_ALIGN) };
            if slab.is_null() {
                return ptr::null_mut();
            }
            self.slab = slab as usize;
            self.slab_end = self.slab + SLAB;
        }
        let block = self.slab;
        self.slab += bytes;
        block as *mut u8
    }

    /// Gives back a small block that was allocated with `size` bytes.
    fn small_free(&mut self, block: *mut u8, size: usize) {
        let class = size.div_ceil(LUA_ALIGN).max(1) - 1;
        // SAFETY: the block holds at least 16 bytes and is no longer Lua's.
        unsafe { *block.cast::<usize>() = self.free[class] };
        self.free[class] = block as usize;
    }

    fn alloc(&mut self, size: usize) -> *mut u8 {
        if size <= SMALL {
            self.small_alloc(size)
        } else {
            // SAFETY: plain allocation.
            unsafe { self.heap.malloc(size, LUA_ALIGN) }
        }
    }

    /// Frees a block allocated with `size` bytes.
    ///
    /// # Safety
    /// `block` came from this heap with that size.
    unsafe fn free(&mut self, block: *mut u8, size: usize) {
        if size <= SMALL {
            self.small_free(block, size);
        } else {
            // SAFETY: caller's contract.
            unsafe { self.heap.free(block, size, LUA_ALIGN) };
        }
    }

    /// Moves a block of `old` bytes to one of `new` bytes; null (the block untouched) when
    /// there is no room. Never fails when shrinking.
    ///
    /// # Safety
    /// `block` came from this heap with `old` bytes.
    unsafe fn realloc(&mut self, block: *mut u8, old: usize, new: usize) -> *mut u8 {
        if old > SMALL && new > SMALL {
            // SAFETY: caller's contract.
            return unsafe { self.heap.realloc(block, old, LUA_ALIGN, new) };
        }
        if old <= SMALL && new <= SMALL && old.div_ceil(LUA_ALIGN) == new.div_ceil(LUA_ALIGN) {
            return block;
        }
        let moved = self.alloc(new);
        if moved.is_null() {
            // Only when growing is the block kept where it is and the call failed; a shrink
            // keeps the bigger block (freed later with its new size into a smaller class,
            // which it more than fills).
            return if new < old { block } else { moved };
        }
        // SAFETY: both blocks are live, distinct and at least `min(old, new)` bytes.
        unsafe {
            ptr::copy_nonoverlapping(block, moved, old.min(new));
            self.free(block, old);
        }
        moved
    }
}

/// The `lua_Alloc` for states on an [`Arena`]: size-class lists and dlmalloc inside the range,
/// with the memory limit applied to what Lua holds. Shrinking never fails (Lua relies on it).
pub(crate) unsafe extern "C" fn lua_alloc(
    ud: *mut c_void,
    ptr: *mut c_void,
    osize: usize,
    nsize: usize,
) -> *mut c_void {
    // SAFETY: `ud` is the header of the arena the state was created on.
    let header = unsafe { &mut *ud.cast::<Header>() };
    if nsize == 0 {
        if !ptr.is_null() {
            // SAFETY: Lua frees what it allocated here, with the size it asked for.
            unsafe { header.free(ptr.cast(), osize) };
            header.used -= osize;
        }
        return ptr::null_mut();
    }
    if ptr.is_null() {
        // `osize` is an object tag here, not a size.
        if header.used.saturating_add(nsize) > header.limit {
            return ptr::null_mut();
        }
        let new = header.alloc(nsize);
        if !new.is_null() {
            header.used += nsize;
        }
        return new.cast();
    }
    if nsize > osize && header.used.saturating_add(nsize - osize) > header.limit {
        return ptr::null_mut();
    }
    // SAFETY: `ptr` was allocated here with `osize` bytes.
    let new = unsafe { header.realloc(ptr.cast(), osize, nsize) };
    if !new.is_null() {
        header.used = header.used - osize + nsize;
    }
    new.cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alloc(arena: &Arena, block: *mut u8, old: usize, new: usize) -> *mut u8 {
        // SAFETY: the blocks given come from this arena with these sizes.
        unsafe { lua_alloc(arena.userdata(), block.cast(), old, new).cast() }
    }

    fn fill(block: *mut u8, len: usize, seed: u8) {
        for i in 0..len {
            // SAFETY: the block holds `len` bytes.
            unsafe { *block.add(i) = seed.wrapping_add(i as u8) };
        }
    }

    fn holds(block: *mut u8, len: usize, seed: u8) -> bool {
        // SAFETY: the block holds `len` bytes.
        (0..len).all(|i| unsafe { *block.add(i) } == seed.wrapping_add(i as u8))
    }

    #[test]
    fn small_blocks_come_back_by_class() {
        let arena = Arena::new(1 << 20).expect("arena");
        let a = alloc(&arena, ptr::null_mut(), 0, 40);
        let b = alloc(&arena, ptr::null_mut(), 0, 48);
        let c = alloc(&arena, ptr::null_mut(), 0, 100);
        assert!(![a, b, c].contains(&ptr::null_mut()));
        assert_eq!(b as usize - a as usize, 48, "40 and 48 bytes share a class");
        assert!(
            [a, b, c]
                .iter()
                .all(|p| (*p as usize).is_multiple_of(LUA_ALIGN))
        );
        assert_eq!(arena.used(), 188);
        alloc(&arena, a, 40, 0);
        alloc(&arena, c, 100, 0);
        assert_eq!(arena.used(), 48);
        // Last freed, first given: by class, whatever size within it is asked for.
        assert_eq!(alloc(&arena, ptr::null_mut(), 0, 112), c);
        assert_eq!(alloc(&arena, ptr::null_mut(), 0, 33), a);
        assert_ne!(alloc(&arena, ptr::null_mut(), 0, 33), a);
    }

    #[test]
    fn reallocation_keeps_the_contents_between_lists_and_dlmalloc() {
        let arena = Arena::new(16 << 20).expect("arena");
        let mut block = alloc(&arena, ptr::null_mut(), 0, 16);
        let mut size = 16;
        fill(block, size, 3);
        for next in [24, 100, 256, 257, 5000, 300, 200, 8, 40_000, 17] {
            let moved = alloc(&arena, block, size, next);
            assert!(!moved.is_null(), "{size} -> {next}");
            assert!(holds(moved, size.min(next), 3), "{size} -> {next}");
            assert_eq!(arena.used(), next);
            fill(moved, next, 3);
            (block, size) = (moved, next);
        }
        alloc(&arena, block, size, 0);
        assert_eq!(arena.used(), 0);
    }

    #[test]
    fn shrinking_never_fails_with_the_range_full() {
        let arena = Arena::new(1 << 20).expect("arena");
        let big = alloc(&arena, ptr::null_mut(), 0, 4096);
        fill(big, 4096, 9);
        // Past the limit, so that only the range's end stops the allocator.
        // SAFETY: the header lives as long as the arena.
        unsafe { (*arena.header_ptr()).limit = usize::MAX };
        while !alloc(&arena, ptr::null_mut(), 0, 1 << 20).is_null() {}
        while !alloc(&arena, ptr::null_mut(), 0, 256).is_null() {}
        while !alloc(&arena, ptr::null_mut(), 0, 16).is_null() {}
        let small = alloc(&arena, big, 4096, 64);
        assert!(!small.is_null());
        assert!(holds(small, 64, 9));
    }

    #[test]
    fn the_same_calls_give_the_same_offsets() {
        let offsets = || {
            let arena = Arena::new(8 << 20).expect("arena");
            let mut live: Vec<(*mut u8, usize)> = Vec::new();
            let mut out = Vec::new();
            for i in 0..5000usize {
                let size = (i * 7919) % 700 + 1;
                if i % 3 == 2 {
                    let (block, old) = live.swap_remove(i % live.len());
                    alloc(&arena, block, old, 0);
                }
                let block = alloc(&arena, ptr::null_mut(), 0, size);
                out.push(block as usize - arena.base as usize);
                live.push((block, size));
            }
            out
        };
        assert_eq!(offsets(), offsets());
    }
}
