package org.convbertedge.core;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/** .npz files (a zip of .npy arrays), as numpy.savez writes and numpy.load reads them. */
public final class Npz {
    private Npz() {}

    /** Every array in the file, keyed by name without ".npy", in file order. */
    public static Map<String, NdArray> read(File file) throws IOException {
        Map<String, NdArray> arrays = new LinkedHashMap<>();
        try (ZipFile zip = new ZipFile(file)) {
            Enumeration<? extends ZipEntry> entries = zip.entries();
            while (entries.hasMoreElements()) {
                ZipEntry e = entries.nextElement();
                String name = e.getName();
                if (!name.endsWith(".npy")) continue;
                try (InputStream in = zip.getInputStream(e)) {
                    arrays.put(name.substring(0, name.length() - 4), Npy.read(in));
                } catch (IOException err) {
                    throw new IOException(file + ": array " + name + ": " + err.getMessage(), err);
                }
            }
        }
        return arrays;
    }

    /** Write arrays to a new .npz, replacing the file only once it is complete. */
    public static void write(File file, Map<String, NdArray> arrays) throws IOException {
        File tmp = new File(file.getPath() + ".tmp");
        try (OutputStream f = new FileOutputStream(tmp);
             ZipOutputStream zip = new ZipOutputStream(f)) {
            for (Map.Entry<String, NdArray> e : arrays.entrySet()) {
                zip.putNextEntry(new ZipEntry(e.getKey() + ".npy"));
                Npy.write(e.getValue(), zip);
                zip.closeEntry();
            }
        }
        if (!tmp.renameTo(file)) {
            if (!file.delete() || !tmp.renameTo(file)) throw new IOException("could not write " + file);
        }
    }
}
