//! Compiles the vendored Lua 5.3.6 (see `lua/README.md`) and aorta's small C helper.

fn main() {
    const FILES: &[&str] = &[
        "lapi", "lcode", "lctype", "ldebug", "ldo", "ldump", "lfunc", "lgc", "llex", "lmem",
        "lobject", "lopcodes", "lparser", "lstate", "lstring", "ltable", "ltm", "lundump", "lvm",
        "lzio", "lauxlib", "lbaselib", "lbitlib", "lcorolib", "lmathlib", "lstrlib", "ltablib",
        "lutf8lib", "aorta",
    ];
    let mut build = cc::Build::new();
    build
        .include("lua")
        // As Lua's own makefile builds 5.3: math.pow, bit32 and friends stay available.
        .define("LUA_COMPAT_5_2", None)
        .define("LUA_USE_POSIX", None)
        // Ids and addresses are 43 characters: interned as short strings, comparing and
        // hashing them (table keys everywhere in ao code) is a pointer compare, not a memcmp.
        .define("LUAI_MAXSHORTLEN", Some("64"))
        // Never fuse `a * b + c` into one rounding: with `CFLAGS=-march=native` GCC would on an
        // FMA machine (its default is `-ffp-contract=fast`), and Lua's float results would then
        // depend on the machine that built the node.
        .flag_if_supported("-ffp-contract=off")
        // -O3: 1.9 % fewer instructions a message than -O2 on the evaluating thread of a
        // rebuild (callgrind, 3 000 counter messages).
        .opt_level(3)
        // The collector works four times as fast as the program allocates (Lua's default is
        // twice): a cycle ends sooner, so the heap peaks lower (a counter process under aos:
        // 0.5–0.7 MB where it was 1.4–2.2 MB) and stays in cache. 2 % more instructions a message,
        // and cold rebuilds ran faster in every alternated sitting (best +7 to +13 %).
        .define("LUAI_GCMUL", Some("400"))
        .warnings(false);
    for file in FILES {
        build.file(format!("lua/{file}.c"));
        println!("cargo:rerun-if-changed=lua/{file}.c");
    }
    println!("cargo:rerun-if-changed=lua");
    build.compile("aorta_lua53");
}
