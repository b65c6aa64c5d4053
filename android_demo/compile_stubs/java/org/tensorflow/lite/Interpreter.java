// COMPILE-ONLY DECLARATION, never packaged into the app: see android_demo/compile_stubs/README.md.
//
// LiteRT 2.3.0 (com.google.ai.edge.litert:litert), org.tensorflow.lite.Interpreter: only the
// members android_demo/app calls. Signatures checked in google-ai-edge/LiteRT,
// tflite/java/src/main/java/org/tensorflow/lite/ at tag v2.2.0 (145c7523) and main f6745779
// (version.bzl: next release 2.3.0), unchanged since 0cfd58d9:
//   Interpreter.java:      public final class Interpreter extends InterpreterImpl implements InterpreterApi
//                          public static class Options extends InterpreterImpl.Options { public Options() }
//                          public Options setNumThreads(int numThreads)
//                          public Interpreter(@NonNull File modelFile, Options options)
//   InterpreterImpl.java:  public void runSignature(@NonNull Map<String, Object> inputs,
//                                                  @NonNull Map<String, Object> outputs)
//                          public void close()
//   InterpreterApi.java:   public interface InterpreterApi extends AutoCloseable { void close(); }
// The package-private InterpreterImpl is folded into this class; nothing here is callable.
package org.tensorflow.lite;

import java.io.File;
import java.util.Map;

public final class Interpreter implements AutoCloseable {
    public static class Options {
        public Options() {}

        public Options setNumThreads(int numThreads) {
            throw new UnsupportedOperationException("compile-only declaration");
        }
    }

    public Interpreter(File modelFile, Options options) {
        throw new UnsupportedOperationException("compile-only declaration");
    }

    public void runSignature(Map<String, Object> inputs, Map<String, Object> outputs) {
        throw new UnsupportedOperationException("compile-only declaration");
    }

    @Override
    public void close() {
        throw new UnsupportedOperationException("compile-only declaration");
    }
}
