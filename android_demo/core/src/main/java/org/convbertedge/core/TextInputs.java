package org.convbertedge.core;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Typed text -> the model's inputs, and the model's outputs -> a label, for the demo screen. */
public final class TextInputs {
    private TextInputs() {}

    /** True when the model takes one sequence per call: inputs shaped (1, seq_len). */
    public static boolean takesOneText(Manifest manifest) {
        for (Manifest.TensorSpec spec : manifest.inputs) {
            if (spec.shape.length != 2 || spec.shape[0] != 1) return false;
        }
        return true;
    }

    /** input_ids / attention_mask / token_type_ids of one text, each (1, seq_len) int32. */
    public static Map<String, NdArray> encode(WordPieceTokenizer tokenizer, Manifest manifest, String text) {
        if (!takesOneText(manifest)) {
            throw new IllegalArgumentException("this " + manifest.task
                    + " artifact does not take one text per call; verify mode still checks it");
        }
        int seqLen = manifest.inputs.get(0).shape[1];
        WordPieceTokenizer.Encoding e = tokenizer.encode(text, seqLen);
        Map<String, NdArray> inputs = new LinkedHashMap<>();
        for (Manifest.TensorSpec spec : manifest.inputs) {
            int[] values;
            switch (spec.name) {
                case "input_ids": values = e.inputIds; break;
                case "attention_mask": values = e.attentionMask; break;
                case "token_type_ids": values = e.tokenTypeIds; break;
                default: throw new IllegalArgumentException("unknown model input " + spec.name);
            }
            inputs.put(spec.name, NdArray.ofInts(values, 1, seqLen));
        }
        return inputs;
    }

    /** "label (p=0.93)" from the first output's last row: softmax over the class logits. */
    public static String topLabel(Manifest manifest, Map<String, NdArray> rawOutputs) {
        Manifest.TensorSpec spec = manifest.outputs.get(0);
        float[] logits = spec.dequantize(rawOutputs.get(spec.name)).toFloats();
        int classes = spec.shape[spec.shape.length - 1];
        int start = logits.length - classes;
        int best = start;
        double max = Double.NEGATIVE_INFINITY;
        for (int i = start; i < logits.length; i++) {
            if (logits[i] > logits[best]) best = i;
            max = Math.max(max, logits[i]);
        }
        double sum = 0;
        for (int i = start; i < logits.length; i++) sum += Math.exp(logits[i] - max);
        double p = Math.exp(logits[best] - max) / sum;
        List<String> labels = manifest.labels;
        int k = best - start;
        String name = k < labels.size() ? labels.get(k) : spec.name + "[" + k + "]";
        return String.format("%s (p=%.3f)", name, p);
    }
}
