package org.convbertedge.core;

import java.io.BufferedReader;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Whole-file UTF-8 reads and writes with java.io only. java.nio.file (Files, File.toPath)
 * arrived in Android API 26 and the app's minSdk is 24: on Android 7 those calls throw
 * NoSuchMethodError / NoClassDefFoundError at run time (tests/test_android_compile.py).
 */
final class Utf8Files {
    private Utf8Files() {}

    static String read(File file) throws IOException {
        try (InputStream in = new FileInputStream(file)) {
            return new String(Npy.readAll(in), StandardCharsets.UTF_8);
        }
    }

    /** Lines split on \n, \r or \r\n, without the terminators (as Files.readAllLines). */
    static List<String> readLines(File file) throws IOException {
        List<String> lines = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(new FileInputStream(file),
                StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) lines.add(line);
        }
        return lines;
    }

    /** Write one line to a new file, replacing {@code file} only once it is complete. */
    static void writeLineAtomically(File file, String line) throws IOException {
        File tmp = new File(file.getPath() + ".tmp");
        try (Writer w = new OutputStreamWriter(new FileOutputStream(tmp), StandardCharsets.UTF_8)) {
            w.write(line.replace('\n', ' ') + "\n");
        }
        if (!tmp.renameTo(file)) throw new IOException("could not write " + file);
    }
}
