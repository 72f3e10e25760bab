//! A process's Lua heap: one private, 4 GiB-aligned range of address space holding every byte
//! the interpreter allocates, the allocator's own bookkeeping included.
//!
//! Two things follow from keeping *all* of the state in one range:
//! * **Exact rollback**: copying the used part of the range out and back restores the
//!   interpreter to exactly that moment: tables, strings, coroutines, GC state, allocator.
//! * **Determinism of addresses**: allocation is deterministic (dlmalloc fed by a bump
//!   pointer), and the range starts at a multiple of 4 GiB, so the low 32 bits of every
//!   address are the same on every run. Lua hashes tables, functions and userdata used as keys by
//!   those bits, so `pairs` visits them in the same order everywhere (and `tostring` prints them,
//!   see `lua/README.md`).

use std::cell::Cell;
use std::ffi::c_void;
use std::ptr;

use dlmalloc::{Allocator, Dlmalloc};

/// Alignment of the range: 4 GiB, so offsets are the low 32 bits of addresses.
const ALIGN: usize = 1 << 32;
/// What Lua needs: `max_align_t`.
const LUA_ALIGN: usize = 16;
const PAGE: usize = 4096;

/// Bookkeeping at the start of the range (so it is saved and restored with the rest).
#[repr(C)]
struct Header {
    heap: Dlmalloc<Bump>,
    /// The first byte not yet handed to dlmalloc.
    brk: Cell<usize>,
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
        // dlmalloc's chunk headers and fragmentation: room for a quarter more, and 16 MiB.
        let len = limit
            .saturating_add(limit / 4)
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

/// The `lua_Alloc` for states on an [`Arena`]: dlmalloc inside the range, with the memory
/// limit applied to what Lua holds. Shrinking never fails (Lua relies on it).
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
            unsafe { header.heap.free(ptr.cast(), osize, LUA_ALIGN) };
            header.used -= osize;
        }
        return ptr::null_mut();
    }
    if ptr.is_null() {
        // `osize` is an object tag here, not a size.
        if header.used.saturating_add(nsize) > header.limit {
            return ptr::null_mut();
        }
        // SAFETY: plain allocation.
        let new = unsafe { header.heap.malloc(nsize, LUA_ALIGN) };
        if !new.is_null() {
            header.used += nsize;
        }
        return new.cast();
    }
    if nsize > osize && header.used.saturating_add(nsize - osize) > header.limit {
        return ptr::null_mut();
    }
    // SAFETY: `ptr` was allocated here with `osize` bytes.
    let new = unsafe { header.heap.realloc(ptr.cast(), osize, LUA_ALIGN, nsize) };
    if !new.is_null() {
        header.used = header.used - osize + nsize;
    }
    new.cast()
}
