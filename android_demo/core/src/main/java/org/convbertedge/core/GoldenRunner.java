package org.convbertedge.core;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Verify mode, without the platform: run a model on every call of the artifact's golden
 * inputs and write what runtime/verify.py reads back.
 *
 * <p>Files written in {@code DIR/verify/}: outputs.npz (output/NAME, dequantized float32,
 * shaped like the bundle), then "done": one line, "ok calls=N median_ms=X" or "error: why".
 * "done" is written last, so its presence means the run is over.
 */
public final class GoldenRunner {
    public static final String VERIFY_DIR = "verify", OUTPUTS = "outputs.npz", DONE = "done";

    private GoldenRunner() {}

    /** Run and write the files; errors are written to "done" as well as thrown. */
    public static String run(File artifact, Model model, Manifest manifest) throws Exception {
        File dir = new File(artifact, VERIFY_DIR);
        if (!dir.isDirectory() && !dir.mkdirs()) throw new IOException("cannot create " + dir);
        File done = new File(dir, DONE);
        if (done.exists() && !done.delete()) throw new IOException("cannot delete the old " + done);
        try {
            GoldenBundle golden = GoldenBundle.load(new File(artifact, Manifest.GOLDEN_NAME));
            Map<String, List<NdArray>> perCall = new LinkedHashMap<>();
            for (Manifest.TensorSpec spec : manifest.outputs) perCall.put(spec.name, new ArrayList<>());
            double[] ms = new double[golden.calls()];
            for (int i = 0; i < golden.calls(); i++) {
                Map<String, NdArray> call = golden.callInputs(i);
                long t0 = System.nanoTime();
                Map<String, NdArray> raw = model.run(call);
                ms[i] = (System.nanoTime() - t0) / 1e6;
                for (Manifest.TensorSpec spec : manifest.outputs) {
                    NdArray out = raw.get(spec.name);
                    if (out == null) throw new IOException("the model returned no output " + spec.name);
                    perCall.get(spec.name).add(spec.dequantize(out));
                }
            }
            Map<String, NdArray> stacked = new LinkedHashMap<>();
            for (Map.Entry<String, List<NdArray>> e : perCall.entrySet()) {
                stacked.put(e.getKey(), NdArray.stack(e.getValue()));
            }
            GoldenBundle.writeOutputs(new File(dir, OUTPUTS), stacked);
            String summary = String.format("ok calls=%d median_ms=%.2f", ms.length, median(ms));
            Utf8Files.writeLineAtomically(done, summary);
            return summary;
        } catch (Exception err) {
            Utf8Files.writeLineAtomically(done, "error: " + err);
            throw err;
        }
    }

    /** Record a failure that happened before or outside run(), e.g. the model did not load. */
    public static void reportError(File artifact, Throwable err) throws IOException {
        File dir = new File(artifact, VERIFY_DIR);
        if (!dir.isDirectory() && !dir.mkdirs()) throw new IOException("cannot create " + dir);
        Utf8Files.writeLineAtomically(new File(dir, DONE), "error: " + err);
    }

    static double median(double[] v) {
        if (v.length == 0) return Double.NaN;
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
