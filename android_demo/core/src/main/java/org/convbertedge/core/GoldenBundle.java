package org.convbertedge.core;

import java.io.File;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * golden.npz as the Python side writes it (runtime/golden.py): input/NAME and output/NAME
 * arrays shaped (calls, *model shape), tolerance/METRIC scalars (NaN = unchecked), texts.
 */
public final class GoldenBundle {
    public final Map<String, NdArray> inputs = new LinkedHashMap<>();
    public final Map<String, NdArray> outputs = new LinkedHashMap<>();
    public final Map<String, Double> tolerance = new LinkedHashMap<>();
    public final String[] texts;

    private GoldenBundle(Map<String, NdArray> arrays) {
        String[] t = new String[0];
        for (Map.Entry<String, NdArray> e : arrays.entrySet()) {
            String key = e.getKey();
            if (key.startsWith("input/")) inputs.put(key.substring(6), e.getValue());
            else if (key.startsWith("output/")) outputs.put(key.substring(7), e.getValue());
            else if (key.startsWith("tolerance/")) {
                double v = e.getValue().toDoubles()[0];
                tolerance.put(key.substring(10), Double.isNaN(v) ? null : v);
            } else if (key.equals("texts")) t = e.getValue().toStrings();
        }
        texts = t;
    }

    public static GoldenBundle load(File npz) throws IOException {
        if (!npz.isFile()) throw new IOException("no golden bundle at " + npz + ": export the artifact again");
        GoldenBundle g = new GoldenBundle(Npz.read(npz));
        if (g.inputs.isEmpty()) throw new IOException(npz + " holds no input/ arrays");
        return g;
    }

    public int calls() {
        return inputs.values().iterator().next().shape[0];
    }

    /** The inputs of model call {@code i}, each shaped like the model's input. */
    public Map<String, NdArray> callInputs(int i) {
        Map<String, NdArray> call = new LinkedHashMap<>();
        for (Map.Entry<String, NdArray> e : inputs.entrySet()) call.put(e.getKey(), e.getValue().row(i));
        return call;
    }

    /** Write outputs stacked over calls as output/NAME, the file runtime/verify.py reads. */
    public static void writeOutputs(File npz, Map<String, NdArray> outputs) throws IOException {
        Map<String, NdArray> arrays = new LinkedHashMap<>();
        for (Map.Entry<String, NdArray> e : outputs.entrySet()) arrays.put("output/" + e.getKey(), e.getValue());
        Npz.write(npz, arrays);
    }
}
