package org.convbertedge.core;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The fields of an artifact's manifest.json that a device needs to feed and read the model. */
public final class Manifest {
    public static final String FILE_NAME = "manifest.json";
    public static final String GOLDEN_NAME = "golden.npz";

    /** One model input or output; a quantized tensor carries scale and zero point. */
    public static final class TensorSpec {
        public final String name;
        public final String dtype;
        public final int[] shape;
        public final Double scale;
        public final int zeroPoint;

        public TensorSpec(String name, String dtype, int[] shape, Double scale, int zeroPoint) {
            this.name = name;
            this.dtype = dtype;
            this.shape = shape;
            this.scale = scale;
            this.zeroPoint = zeroPoint;
        }

        /** Raw model output -> float32 real values (real = scale * (q - zero_point)). */
        public NdArray dequantize(NdArray raw) {
            if (scale == null) return raw.dtype.equals("float32") ? raw : NdArray.ofFloats(raw.toFloats(), raw.shape);
            double[] q = raw.toDoubles();
            float[] out = new float[q.length];
            for (int k = 0; k < q.length; k++) out[k] = (float) (q[k] - zeroPoint) * scale.floatValue();
            return NdArray.ofFloats(out, raw.shape);
        }
    }

    public final String task;
    public final String target;
    public final String quantization;
    public final String modelFile;
    public final int seqLen;
    public final int batch;
    public final List<TensorSpec> inputs;
    public final List<TensorSpec> outputs;
    public final List<String> labels;

    private Manifest(Map<String, Object> m) {
        task = (String) m.get("task");
        target = (String) m.get("target");
        quantization = (String) m.get("quantization");
        modelFile = (String) m.get("model_file");
        seqLen = ((Number) m.get("seq_len")).intValue();
        batch = ((Number) m.get("batch")).intValue();
        inputs = specs(m.get("inputs"));
        outputs = specs(m.get("outputs"));
        labels = new ArrayList<>();
        Object l = m.get("labels");
        if (l != null) for (Object x : (List<?>) l) labels.add(String.valueOf(x));
    }

    @SuppressWarnings("unchecked")
    public static Manifest read(File directory) throws IOException {
        File f = new File(directory, FILE_NAME);
        if (!f.isFile()) throw new IOException(directory + " is not an artifact: no " + FILE_NAME + " in it");
        try {
            String text = Utf8Files.read(f);
            return new Manifest((Map<String, Object>) Json.parse(text));
        } catch (RuntimeException err) {
            throw new IOException(f + " is missing or has a malformed field: " + err, err);
        }
    }

    public File modelPath(File directory) {
        return new File(directory, modelFile);
    }

    @SuppressWarnings("unchecked")
    private static List<TensorSpec> specs(Object list) {
        List<TensorSpec> out = new ArrayList<>();
        for (Object o : (List<Object>) list) {
            Map<String, Object> d = (Map<String, Object>) o;
            List<Object> dims = (List<Object>) d.get("shape");
            int[] shape = new int[dims.size()];
            for (int k = 0; k < shape.length; k++) shape[k] = ((Number) dims.get(k)).intValue();
            Object scale = d.get("scale");
            Object zero = d.get("zero_point");
            out.add(new TensorSpec((String) d.get("name"), (String) d.get("dtype"), shape,
                    scale == null ? null : ((Number) scale).doubleValue(),
                    zero == null ? 0 : ((Number) zero).intValue()));
        }
        return out;
    }
}
