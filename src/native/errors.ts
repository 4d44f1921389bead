// The stable codes the native module sets on its errors (`err.code`, from
// `napi::Error::new(code, …)` in crates/native), with what each means. It is
// its own module because the crate owns these codes: src/errors.ts folds
// them into ErrorCode (a type-only import, so nothing here loads the
// binding), and src/native/index.ts keeps a native error's code only when
// it is one of these or one of ours (the crate also uses E_USAGE).
export const NATIVE_ERROR_CODES = {
  E_IO: 'a file system call of the native module failed (e.g. sync_file_range)',
  E_LAYER_FS: 'a rooted file operation inside a layer or root failed',
  E_UNSAFE_PATH: 'a path would leave its root (a .. or a link out of it)',
  E_LOCK: 'a store lock cannot be taken',
  E_NATIVE: 'a native call failed without a code of its own',
  E_NATIVE_MISSING: 'the native module cannot be loaded (run npm ci)',
} as const satisfies Record<string, string>;

/** The codes native calls fail with. */
export type NativeErrorCode = keyof typeof NATIVE_ERROR_CODES;
