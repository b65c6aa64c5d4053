package org.convbertedge.core;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The .npy format (versions 1-3), C order, little-endian: what numpy.save writes. */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr':\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order':\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape':\\s*\\(([^)]*)\\)");

    private Npy() {}

    public static NdArray read(InputStream in) throws IOException {
        return parse(readAll(in));
    }

    public static NdArray parse(byte[] bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (byte m : MAGIC) {
            if (b.remaining() == 0 || b.get() != m) throw new IOException("not an .npy array (bad magic)");
        }
        int major = b.get() & 0xff;
        b.get();
        int headerLen = major == 1 ? (b.getShort() & 0xffff) : b.getInt();
        String header = new String(bytes, b.position(), headerLen,
                major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        b.position(b.position() + headerLen);
        String descr = group(DESCR, header);
        if (group(FORTRAN, header).equals("True")) throw new IOException("Fortran-order arrays are not supported");
        String dims = group(SHAPE, header).trim();
        int[] shape = dims.isEmpty() ? new int[0] : parseDims(dims);
        long n = 1;
        for (int d : shape) n *= d;
        if (descr.startsWith("<U")) {
            int width = Integer.parseInt(descr.substring(2));
            String[] values = new String[(int) n];
            for (int i = 0; i < n; i++) {
                StringBuilder s = new StringBuilder();
                for (int j = 0; j < width; j++) {
                    int cp = b.getInt();
                    if (cp != 0) s.appendCodePoint(cp);
                }
                values[i] = s.toString();
            }
            return NdArray.ofStrings(values, shape);
        }
        String dtype = dtypeOf(descr);
        ByteBuffer data = b.slice().order(ByteOrder.LITTLE_ENDIAN);
        data.limit((int) (n * NdArray.itemSize(dtype)));
        return new NdArray(dtype, shape, data, null);
    }

    public static void write(NdArray a, OutputStream out) throws IOException {
        StringBuilder dims = new StringBuilder();
        for (int d : a.shape) dims.append(d).append(", ");
        if (a.shape.length > 1) dims.setLength(dims.length() - 2);
        else if (a.shape.length == 1) dims.setLength(dims.length() - 1);
        String header = "{'descr': '" + descrOf(a.dtype) + "', 'fortran_order': False, 'shape': ("
                + dims + "), }";
        int unpadded = MAGIC.length + 2 + 2 + header.length() + 1;
        StringBuilder h = new StringBuilder(header);
        for (int i = 0; i < (64 - unpadded % 64) % 64; i++) h.append(' ');
        h.append('\n');
        byte[] hb = h.toString().getBytes(StandardCharsets.ISO_8859_1);
        out.write(MAGIC);
        out.write(new byte[] {1, 0, (byte) (hb.length & 0xff), (byte) (hb.length >> 8)});
        out.write(hb);
        ByteBuffer data = a.bytes();
        byte[] raw = new byte[data.remaining()];
        data.get(raw);
        out.write(raw);
    }

    private static String group(Pattern p, String header) throws IOException {
        Matcher m = p.matcher(header);
        if (!m.find()) throw new IOException("malformed .npy header: " + header.trim());
        return m.group(1);
    }

    private static int[] parseDims(String dims) {
        String[] parts = dims.split(",");
        int count = 0;
        for (String p : parts) if (!p.trim().isEmpty()) count++;
        int[] shape = new int[count];
        int i = 0;
        for (String p : parts) if (!p.trim().isEmpty()) shape[i++] = Integer.parseInt(p.trim());
        return shape;
    }

    private static String dtypeOf(String descr) throws IOException {
        switch (descr) {
            case "<f4": return "float32";
            case "<f8": return "float64";
            case "<i4": return "int32";
            case "<i8": return "int64";
            case "|i1": return "int8";
            case "|u1": return "uint8";
            case "|b1": return "bool";
            default: throw new IOException("unsupported .npy dtype " + descr
                    + " (little-endian float32/64, int8/32/64, uint8, bool and <U strings are read)");
        }
    }

    private static String descrOf(String dtype) {
        switch (dtype) {
            case "float32": return "<f4";
            case "float64": return "<f8";
            case "int32": return "<i4";
            case "int64": return "<i8";
            case "int8": return "|i1";
            case "uint8": return "|u1";
            case "bool": return "|b1";
            default: throw new IllegalArgumentException("cannot write dtype " + dtype);
        }
    }

    static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[1 << 16];
        for (int n; (n = in.read(buf)) > 0; ) out.write(buf, 0, n);
        return out.toByteArray();
    }
}
