// COMPILE-ONLY DECLARATION, never packaged into the app: see android_demo/compile_stubs/README.md.
//
// ExecuTorch 1.5.1 (org.pytorch:executorch-android), org.pytorch.executorch.EValue: only the
// members android_demo/app calls. Checked in pytorch/executorch,
// extension/android/executorch_android/src/main/java/org/pytorch/executorch/EValue.kt, identical
// at tag v1.4.1 (e4d02f41) and main cff6f4dd (version.txt 1.5.0):
//   class EValue private constructor(...)              (final: Kotlin's default)
//   companion object { @JvmStatic fun from(tensor: Tensor): EValue }
//                                  -> public static EValue from(Tensor tensor)
//   fun toTensor(): Tensor         -> public Tensor toTensor()
package org.pytorch.executorch;

public final class EValue {
    private EValue() {}

    public static EValue from(Tensor tensor) {
        throw new UnsupportedOperationException("compile-only declaration");
    }

    public Tensor toTensor() {
        throw new UnsupportedOperationException("compile-only declaration");
    }
}
