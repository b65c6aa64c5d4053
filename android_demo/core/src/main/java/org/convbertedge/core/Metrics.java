package org.convbertedge.core;

import java.util.Arrays;

/**
 * How far an output is from the fp32 reference; the same definitions as
 * runtime/metrics.py (compare_output), computed in double precision.
 */
public final class Metrics {
    public final String name;
    public final double maxAbs;
    public final double meanAbs;
    public final double cosine;
    public final double sqnrDb;
    public final double argmaxAgreement;

    public Metrics(String name, double maxAbs, double meanAbs, double cosine, double sqnrDb,
                   double argmaxAgreement) {
        this.name = name;
        this.maxAbs = maxAbs;
        this.meanAbs = meanAbs;
        this.cosine = cosine;
        this.sqnrDb = sqnrDb;
        this.argmaxAgreement = argmaxAgreement;
    }

    public double[] values() {
        return new double[] {maxAbs, meanAbs, cosine, sqnrDb, argmaxAgreement};
    }

    public static Metrics compare(String name, NdArray reference, NdArray actual) {
        if (!Arrays.equals(reference.shape, actual.shape)) {
            throw new IllegalArgumentException(name + ": shape " + Arrays.toString(actual.shape)
                    + " differs from the reference " + Arrays.toString(reference.shape));
        }
        double[] ref = reference.toDoubles();
        double[] out = actual.toDoubles();
        for (double v : out) {
            if (Double.isNaN(v) || Double.isInfinite(v)) {  // not isFinite: API 24, above the API-23 check
                return new Metrics(name, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, Double.NaN,
                        Double.NEGATIVE_INFINITY, 0.0);
            }
        }
        double noise = 0, signal = 0, outSq = 0, dot = 0, maxAbs = 0, sumAbs = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = out[i] - ref[i];
            noise += d * d;
            signal += ref[i] * ref[i];
            outSq += out[i] * out[i];
            dot += ref[i] * out[i];
            maxAbs = Math.max(maxAbs, Math.abs(d));
            sumAbs += Math.abs(d);
        }
        double norms = Math.sqrt(signal) * Math.sqrt(outSq);
        double sqnr;
        if (noise == 0.0) sqnr = Double.POSITIVE_INFINITY;
        else if (signal == 0.0) sqnr = Double.NEGATIVE_INFINITY;
        else sqnr = 10.0 * Math.log10(signal / noise);
        double cosine = norms > 0 ? dot / norms : (noise == 0.0 ? 1.0 : 0.0);
        double meanAbs = ref.length == 0 ? 0.0 : sumAbs / ref.length;
        return new Metrics(name, maxAbs, meanAbs, cosine, sqnr, argmaxAgreement(reference.shape, ref, out));
    }

    /** Share of rows (all axes but the last) whose first maximum sits at the same index. */
    private static double argmaxAgreement(int[] shape, double[] ref, double[] out) {
        if (ref.length == 0) return 1.0;
        int last = shape.length == 0 ? 1 : shape[shape.length - 1];
        int rows = ref.length / last;
        int agree = 0;
        for (int r = 0; r < rows; r++) {
            if (argmax(ref, r * last, last) == argmax(out, r * last, last)) agree++;
        }
        return (double) agree / rows;
    }

    /** numpy's argmax: the first maximum, and the first NaN if there is one. */
    private static int argmax(double[] v, int start, int n) {
        int best = 0;
        for (int j = 0; j < n; j++) {
            double x = v[start + j];
            if (Double.isNaN(x)) return j;
            if (x > v[start + best]) best = j;
        }
        return best;
    }

    @Override
    public String toString() {
        return String.format("%s: max_abs %.3g mean_abs %.3g cosine %.6f sqnr %.1f dB argmax %.3f",
                name, maxAbs, meanAbs, cosine, sqnrDb, argmaxAgreement);
    }
}
