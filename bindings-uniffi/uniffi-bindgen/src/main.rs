//! `uniffi-bindgen`: generates the Kotlin, Swift and Ruby sources of `ferroftp-uniffi` from its
//! built library (`make bindings`). Same uniffi version as the library, through the lock file.

fn main() {
    uniffi::uniffi_bindgen_main()
}
