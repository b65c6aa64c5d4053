// COMPILE-ONLY DECLARATION, never packaged into the app: see android_demo/compile_stubs/README.md.
//
// ExecuTorch 1.5.1 (org.pytorch:executorch-android), org.pytorch.executorch.Tensor: only the
// members android_demo/app calls. Checked in pytorch/executorch,
// extension/android/executorch_android/src/main/java/org/pytorch/executorch/Tensor.kt, identical
// at tag v1.4.1 (e4d02f41) and main cff6f4dd (version.txt 1.5.0):
//   abstract class Tensor internal constructor(shape: LongArray)
//   companion object { @JvmStatic fun fromBlob(data: IntArray, shape: LongArray): Tensor }
//                                  -> public static Tensor fromBlob(int[] data, long[] shape)
//   open val dataAsFloatArray: FloatArray  -> public float[] getDataAsFloatArray()
package org.pytorch.executorch;

public abstract class Tensor {
    Tensor() {}

    public static Tensor fromBlob(int[] data, long[] shape) {
        throw new UnsupportedOperationException("compile-only declaration");
    }

    public float[] getDataAsFloatArray() {
        throw new UnsupportedOperationException("compile-only declaration");
    }
}
