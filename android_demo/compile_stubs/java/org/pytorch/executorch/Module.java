// COMPILE-ONLY DECLARATION, never packaged into the app: see android_demo/compile_stubs/README.md.
//
// ExecuTorch 1.5.1 (org.pytorch:executorch-android), org.pytorch.executorch.Module: only the
// members android_demo/app calls. Checked in pytorch/executorch,
// extension/android/executorch_android/src/main/java/org/pytorch/executorch/Module.kt at tag
// v1.4.1 (e4d02f41) and main cff6f4dd (version.txt 1.5.0):
//   open class Module private constructor(...) : Closeable
//   companion object { @JvmStatic @JvmOverloads
//       fun load(modelPath: String?, loadMode: Int = LOAD_MODE_FILE, numThreads: Int = 0): Module }
//                                              -> public static Module load(String modelPath)
//   open fun forward(vararg inputs: EValue): Array<EValue>  -> public EValue[] forward(EValue... inputs)
//   open fun destroy()                                      -> public void destroy()
package org.pytorch.executorch;

public class Module {
    private Module() {}

    public static Module load(String modelPath) {
        throw new UnsupportedOperationException("compile-only declaration");
    }

    public EValue[] forward(EValue... inputs) {
        throw new UnsupportedOperationException("compile-only declaration");
    }

    public void destroy() {
        throw new UnsupportedOperationException("compile-only declaration");
    }
}
