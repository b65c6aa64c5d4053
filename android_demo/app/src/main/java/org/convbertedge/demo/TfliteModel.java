package org.convbertedge.demo;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

import org.convbertedge.core.Manifest;
import org.convbertedge.core.Model;
import org.convbertedge.core.NdArray;
import org.tensorflow.lite.Interpreter;

/**
 * A .tflite artifact on LiteRT's Interpreter (com.google.ai.edge.litert:litert keeps the
 * org.tensorflow.lite API). Tensors are fed and read by signature name, the names the
 * manifest lists, as the Python side does with get_signature_runner().
 */
final class TfliteModel implements Model {
    private final Interpreter interpreter;
    private final Manifest manifest;

    TfliteModel(File modelFile, Manifest manifest, int threads) {
        Interpreter.Options options = new Interpreter.Options();
        options.setNumThreads(threads);
        this.interpreter = new Interpreter(modelFile, options);
        this.manifest = manifest;
    }

    @Override
    public Map<String, NdArray> run(Map<String, NdArray> inputs) {
        Map<String, Object> feed = new HashMap<>();
        for (Manifest.TensorSpec spec : manifest.inputs) {
            NdArray x = inputs.get(spec.name);
            if (!x.dtype.equals(spec.dtype)) {
                throw new IllegalArgumentException("input " + spec.name + " is " + x.dtype + ", the model takes " + spec.dtype);
            }
            ByteBuffer b = ByteBuffer.allocateDirect(x.bytes().remaining()).order(ByteOrder.LITTLE_ENDIAN);
            b.put(x.bytes()).rewind();
            feed.put(spec.name, b);
        }
        Map<String, Object> fetch = new HashMap<>();
        for (Manifest.TensorSpec spec : manifest.outputs) {
            fetch.put(spec.name, ByteBuffer.allocateDirect(byteSize(spec)).order(ByteOrder.LITTLE_ENDIAN));
        }
        interpreter.runSignature(feed, fetch);
        Map<String, NdArray> out = new LinkedHashMap<>();
        for (Manifest.TensorSpec spec : manifest.outputs) {
            ByteBuffer b = (ByteBuffer) fetch.get(spec.name);
            b.rewind();
            out.put(spec.name, NdArray.ofBytes(spec.dtype, b, spec.shape));
        }
        return out;
    }

    private static int byteSize(Manifest.TensorSpec spec) {
        int n = 1;
        for (int d : spec.shape) n *= d;
        switch (spec.dtype) {
            case "int8": case "uint8": return n;
            case "float32": case "int32": return 4 * n;
            default: throw new IllegalArgumentException("output " + spec.name + " has unsupported dtype " + spec.dtype);
        }
    }

    @Override
    public void close() {
        interpreter.close();
    }
}
