package org.convbertedge.core;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A numpy-style array: a dtype name ("float32", "int32", ...), a shape, and little-endian
 * bytes. String arrays (numpy "<U") hold their values as Java strings instead.
 *
 * <p>Example: {@code NdArray.ofFloats(new float[] {1f, 2f}, 1, 2).toDoubles()}
 */
public final class NdArray {
    public final String dtype;
    public final int[] shape;
    private final ByteBuffer data;
    private final String[] strings;

    NdArray(String dtype, int[] shape, ByteBuffer data, String[] strings) {
        this.dtype = dtype;
        this.shape = shape.clone();
        this.data = data == null ? null : data.order(ByteOrder.LITTLE_ENDIAN);
        this.strings = strings;
        long expected = size() * (strings == null ? itemSize(dtype) : 0);
        if (data != null && data.remaining() != expected) {
            throw new IllegalArgumentException(
                    "array of " + dtype + Arrays.toString(shape) + " needs " + expected
                            + " bytes, got " + data.remaining());
        }
    }

    public static NdArray ofFloats(float[] values, int... shape) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return new NdArray("float32", checkShape(values.length, shape), b, null);
    }

    public static NdArray ofInts(int[] values, int... shape) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(values);
        return new NdArray("int32", checkShape(values.length, shape), b, null);
    }

    public static NdArray ofBytes(String dtype, ByteBuffer littleEndian, int... shape) {
        return new NdArray(dtype, shape, littleEndian.slice(), null);
    }

    public static NdArray ofStrings(String[] values, int... shape) {
        return new NdArray("str", checkShape(values.length, shape), null, values.clone());
    }

    private static int[] checkShape(int n, int[] shape) {
        long size = 1;
        for (int d : shape) size *= d;
        if (size != n) {
            throw new IllegalArgumentException(n + " values do not fill shape " + Arrays.toString(shape));
        }
        return shape;
    }

    static int itemSize(String dtype) {
        switch (dtype) {
            case "float64": case "int64": return 8;
            case "float32": case "int32": return 4;
            case "int8": case "uint8": case "bool": return 1;
            default: throw new IllegalArgumentException("unsupported dtype " + dtype);
        }
    }

    public long size() {
        long n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    public boolean isString() {
        return strings != null;
    }

    /** The little-endian bytes (a read-only view); not for string arrays. */
    public ByteBuffer bytes() {
        requireNumeric();
        return data.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    public String[] toStrings() {
        if (strings == null) throw new IllegalStateException(dtype + " array holds no strings");
        return strings.clone();
    }

    public double[] toDoubles() {
        requireNumeric();
        int n = (int) size();
        double[] out = new double[n];
        ByteBuffer b = bytes();
        for (int i = 0; i < n; i++) out[i] = get(b, i);
        return out;
    }

    public float[] toFloats() {
        double[] d = toDoubles();
        float[] out = new float[d.length];
        for (int i = 0; i < d.length; i++) out[i] = (float) d[i];
        return out;
    }

    public int[] toInts() {
        requireNumeric();
        int n = (int) size();
        int[] out = new int[n];
        ByteBuffer b = bytes();
        for (int i = 0; i < n; i++) out[i] = (int) get(b, i);
        return out;
    }

    private double get(ByteBuffer b, int i) {
        switch (dtype) {
            case "float64": return b.getDouble(i * 8);
            case "float32": return b.getFloat(i * 4);
            case "int64": return b.getLong(i * 8);
            case "int32": return b.getInt(i * 4);
            case "int8": return b.get(i);
            case "uint8": case "bool": return b.get(i) & 0xff;
            default: throw new IllegalStateException("unsupported dtype " + dtype);
        }
    }

    /** Entry {@code index} along the first axis: shape (n, *rest) -> (*rest). */
    public NdArray row(int index) {
        if (shape.length == 0 || index < 0 || index >= shape[0]) {
            throw new IndexOutOfBoundsException("row " + index + " of shape " + Arrays.toString(shape));
        }
        int[] rest = Arrays.copyOfRange(shape, 1, shape.length);
        long per = size() / shape[0];
        if (strings != null) {
            return new NdArray("str", rest, null,
                    Arrays.copyOfRange(strings, (int) (index * per), (int) ((index + 1) * per)));
        }
        int item = itemSize(dtype);
        ByteBuffer b = bytes();
        b.position((int) (index * per * item));
        b.limit((int) ((index + 1) * per * item));
        return new NdArray(dtype, rest, b.slice(), null);
    }

    /** Arrays of one dtype and shape stacked along a new first axis. */
    public static NdArray stack(java.util.List<NdArray> rows) {
        if (rows.isEmpty()) throw new IllegalArgumentException("nothing to stack");
        NdArray first = rows.get(0);
        int[] shape = new int[first.shape.length + 1];
        shape[0] = rows.size();
        System.arraycopy(first.shape, 0, shape, 1, first.shape.length);
        ByteBuffer out = ByteBuffer.allocate((int) (first.size() * itemSize(first.dtype) * rows.size()));
        for (NdArray r : rows) {
            if (!r.dtype.equals(first.dtype) || !Arrays.equals(r.shape, first.shape)) {
                throw new IllegalArgumentException("cannot stack " + r.dtype + Arrays.toString(r.shape)
                        + " onto " + first.dtype + Arrays.toString(first.shape));
            }
            out.put(r.bytes());
        }
        out.flip();
        return new NdArray(first.dtype, shape, out, null);
    }

    private void requireNumeric() {
        if (strings != null) throw new IllegalStateException("string array has no numeric values");
    }

    @Override
    public String toString() {
        return "NdArray(" + dtype + ", " + Arrays.toString(shape) + ")";
    }
}
