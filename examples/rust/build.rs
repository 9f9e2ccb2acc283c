// Links libedgeguard: $EDGEGUARD_LIB_DIR (the lib/ folder of `make publish-lib`), else the system's library path.
fn main() {
    println!("cargo:rerun-if-env-changed=EDGEGUARD_LIB_DIR");
    if let Ok(dir) = std::env::var("EDGEGUARD_LIB_DIR") {
        println!("cargo:rustc-link-search=native={dir}");
        // The example runs from the build tree; a product installs the library where the loader looks.
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    println!("cargo:rustc-link-lib=dylib=edgeguard");
}
