package org.convbertedge.core;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JVM tests of the core, against vectors the Python side writes
 * (convbert_edge.runtime.java_vectors). A plain runner, so CI needs only a JDK:
 *
 * <pre>java -cp CLASSES org.convbertedge.core.CoreTests VECTORS_DIR [ARTIFACT_DIR]</pre>
 *
 * Prints one line per test and closes with "N passed, N failed"; exit status 1 on a failure.
 * With ARTIFACT_DIR, verify mode runs on it with a model that echoes the golden outputs
 * and leaves ARTIFACT_DIR/verify/outputs.npz for the Python side to check.
 */
public final class CoreTests {
    private final File vectors;
    private final File artifact;
    private int passed, failed;

    private CoreTests(File vectors, File artifact) {
        this.vectors = vectors;
        this.artifact = artifact;
    }

    interface Test {
        String run() throws Exception;
    }

    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: CoreTests VECTORS_DIR [ARTIFACT_DIR]");
            System.exit(2);
        }
        CoreTests t = new CoreTests(new File(args[0]), args.length > 1 ? new File(args[1]) : null);
        if (new File(t.vectors, "tokenizer_sentences.npz").isFile()) {
            t.check("tokenizer_sentences", () -> t.tokenizerVectors("tokenizer_sentences.npz"));
        } else {
            System.out.println("SKIP tokenizer_sentences: no tokenizer_sentences.npz in " + t.vectors);
        }
        t.check("tokenizer_hard_cases", () -> t.tokenizerVectors("tokenizer_hard_cases.npz"));
        t.check("tokenizer_truncates_and_pads", t::truncatesAndPads);
        t.check("metrics_match_python", t::metricsMatchPython);
        t.check("npy_round_trip", CoreTests::npyRoundTrip);
        t.check("dequantize", CoreTests::dequantize);
        t.check("json", CoreTests::json);
        if (t.artifact != null) {
            t.check("text_inputs_and_label", t::textInputsAndLabel);
            t.check("golden_runner_writes_outputs", t::goldenRunner);
        }
        System.out.println(t.passed + " passed, " + t.failed + " failed");
        System.exit(t.failed == 0 ? 0 : 1);
    }

    private void check(String name, Test test) {
        try {
            String detail = test.run();
            passed++;
            System.out.println("PASS " + name + (detail == null ? "" : ": " + detail));
        } catch (Throwable err) {
            failed++;
            String why = err instanceof AssertionError ? err.getMessage() : err.toString();
            System.out.println("FAIL " + name + ": " + why);
        }
    }

    private static void require(boolean ok, String message) {
        if (!ok) throw new AssertionError(message);
    }

    private String tokenizerVectors(String file) throws Exception {
        WordPieceTokenizer tok = WordPieceTokenizer.fromDirectory(vectors);
        Map<String, NdArray> v = Npz.read(new File(vectors, file));
        String[] texts = v.get("texts").toStrings();
        NdArray ids = v.get("input_ids"), mask = v.get("attention_mask"), types = v.get("token_type_ids");
        int maxLength = ids.shape[1];
        List<String> mismatches = new ArrayList<>();
        for (int i = 0; i < texts.length; i++) {
            WordPieceTokenizer.Encoding e = tok.encode(texts[i], maxLength);
            int[] want = ids.row(i).toInts();
            if (!Arrays.equals(e.inputIds, want) || !Arrays.equals(e.attentionMask, mask.row(i).toInts())
                    || !Arrays.equals(e.tokenTypeIds, types.row(i).toInts())) {
                if (mismatches.size() < 5) {
                    mismatches.add("#" + i + " " + escape(texts[i]) + "\n    python " + Arrays.toString(want)
                            + "\n    java   " + Arrays.toString(e.inputIds));
                } else {
                    mismatches.add("#" + i);
                }
            }
        }
        require(texts.length > 0, file + " holds no texts");
        require(mismatches.isEmpty(), mismatches.size() + " of " + texts.length + " texts differ:\n  "
                + String.join("\n  ", mismatches.subList(0, Math.min(5, mismatches.size()))));
        return texts.length + " texts, 0 mismatches";
    }

    private String truncatesAndPads() throws Exception {
        WordPieceTokenizer tok = WordPieceTokenizer.fromDirectory(vectors);
        WordPieceTokenizer.Encoding e = tok.encode("a fine film", 8);
        require(e.inputIds[0] == tok.id("[CLS]") && e.inputIds[4] == tok.id("[SEP]"), Arrays.toString(e.inputIds));
        require(e.inputIds[5] == tok.id("[PAD]") && e.attentionMask[4] == 1 && e.attentionMask[5] == 0,
                Arrays.toString(e.attentionMask));
        WordPieceTokenizer.Encoding cut = tok.encode("one two three four five six seven", 6);
        require(cut.truncated && cut.inputIds[5] == tok.id("[SEP]"), Arrays.toString(cut.inputIds));
        return null;
    }

    private String metricsMatchPython() throws Exception {
        Map<String, NdArray> v = Npz.read(new File(vectors, "metric_vectors.npz"));
        String[] fields = {"max_abs", "mean_abs", "cosine", "sqnr_db", "argmax_agreement"};
        int cases = 0;
        double worst = 0;
        for (int k = 0; v.containsKey("reference/" + k); k++, cases++) {
            Metrics m = Metrics.compare("case" + k, v.get("reference/" + k), v.get("actual/" + k));
            double[] want = v.get("metrics/" + k).toDoubles();
            double[] got = m.values();
            for (int f = 0; f < fields.length; f++) {
                boolean same = Double.compare(want[f], got[f]) == 0
                        || Math.abs(want[f] - got[f]) <= 1e-9 * Math.max(1.0, Math.abs(want[f]));
                require(same, "case " + k + " " + fields[f] + ": python " + want[f] + ", java " + got[f]);
                if (Double.isFinite(want[f])) {
                    worst = Math.max(worst, Math.abs(want[f] - got[f]) / Math.max(1.0, Math.abs(want[f])));
                }
            }
        }
        require(cases >= 5, "only " + cases + " metric cases");
        return cases + " cases x 5 metrics, largest relative difference " + worst;
    }

    private static String npyRoundTrip() throws Exception {
        NdArray a = NdArray.ofFloats(new float[] {1.5f, -2f, 3.25f, 0f, 7f, -0.125f}, 2, 3);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Npy.write(a, out);
        require((out.size() - 24) % 64 == 0, "header not 64-byte aligned: " + out.size());
        NdArray b = Npy.read(new ByteArrayInputStream(out.toByteArray()));
        require(b.dtype.equals("float32") && Arrays.equals(b.shape, a.shape), b.toString());
        require(Arrays.equals(b.toFloats(), a.toFloats()), Arrays.toString(b.toFloats()));
        require(Arrays.equals(b.row(1).toFloats(), new float[] {0f, 7f, -0.125f}), "row 1");
        return null;
    }

    private static String dequantize() {
        Manifest.TensorSpec spec = new Manifest.TensorSpec("logits", "int8", new int[] {1, 2}, 0.5, -3);
        NdArray raw = NdArray.ofBytes("int8", java.nio.ByteBuffer.wrap(new byte[] {-3, 7}), 1, 2);
        float[] real = spec.dequantize(raw).toFloats();
        require(real[0] == 0f && real[1] == 5f, Arrays.toString(real));
        return null;
    }

    @SuppressWarnings("unchecked")
    private static String json() {
        Map<String, Object> m = (Map<String, Object>) Json.parse(
                "{\"a\": [1, 2.5e1, -3], \"s\": \"x\\\"y\\u00e9\", \"n\": null, \"t\": true, \"f\": NaN}");
        require(((List<Object>) m.get("a")).get(1).equals(25.0), "number");
        require(m.get("s").equals("x\"yé") && m.get("n") == null && m.get("t").equals(Boolean.TRUE), m.toString());
        require(Double.isNaN((Double) m.get("f")), "NaN");
        return null;
    }

    private String textInputsAndLabel() throws Exception {
        Manifest manifest = Manifest.read(artifact);
        WordPieceTokenizer tok = WordPieceTokenizer.fromDirectory(artifact);
        GoldenBundle golden = GoldenBundle.load(new File(artifact, Manifest.GOLDEN_NAME));
        Map<String, NdArray> inputs = TextInputs.encode(tok, manifest, golden.texts[0]);
        for (Map.Entry<String, NdArray> e : golden.callInputs(0).entrySet()) {
            require(Arrays.equals(inputs.get(e.getKey()).toInts(), e.getValue().toInts()), e.getKey());
        }
        Map<String, NdArray> logits = new LinkedHashMap<>();
        logits.put("logits", NdArray.ofFloats(new float[] {-1f, 2f}, 1, 2));
        String label = TextInputs.topLabel(manifest, logits);
        require(label.equals("positive (p=0.953)"), label);
        return label;
    }

    /** Verify mode on the JVM, with a model that answers each call with the golden outputs. */
    private String goldenRunner() throws Exception {
        Manifest manifest = Manifest.read(artifact);
        GoldenBundle golden = GoldenBundle.load(new File(artifact, Manifest.GOLDEN_NAME));
        require(golden.inputs.keySet().equals(names(manifest.inputs)), "inputs " + golden.inputs.keySet());
        Model echo = new Model() {
            int call = 0;

            @Override
            public Map<String, NdArray> run(Map<String, NdArray> inputs) {
                require(inputs.keySet().equals(golden.inputs.keySet()), "call inputs " + inputs.keySet());
                Map<String, NdArray> out = new LinkedHashMap<>();
                for (Map.Entry<String, NdArray> e : golden.outputs.entrySet()) out.put(e.getKey(), e.getValue().row(call));
                call++;
                return out;
            }

            @Override
            public void close() {}
        };
        String summary = GoldenRunner.run(artifact, echo, manifest);
        String done = new String(Files.readAllBytes(
                new File(artifact, "verify/done").toPath()), StandardCharsets.UTF_8).trim();
        require(done.startsWith("ok calls=" + golden.calls()), done);
        return summary + "; " + golden.texts.length + " texts in the bundle";
    }

    private static java.util.Set<String> names(List<Manifest.TensorSpec> specs) {
        java.util.Set<String> s = new java.util.LinkedHashSet<>();
        for (Manifest.TensorSpec t : specs) s.add(t.name);
        return s;
    }

    private static String escape(String s) {
        StringBuilder b = new StringBuilder("\"");
        s.codePoints().limit(120).forEach(c -> {
            if (c < 0x20 || c == 0x7f) b.append(String.format("\\x%02x", c));
            else b.appendCodePoint(c);
        });
        return b.append('"').toString();
    }
}
