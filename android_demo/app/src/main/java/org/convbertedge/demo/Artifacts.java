package org.convbertedge.demo;

import android.content.Context;

import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.convbertedge.core.Manifest;
import org.convbertedge.core.Model;

/** Where artifacts live on the phone, and which runtime opens each. */
final class Artifacts {
    static final String TAG = "ConvBertEdge";
    static final int THREADS = 2;

    private Artifacts() {}

    /** files/convbert_edge/ in the app's external files directory (runtime/device.py REMOTE_ROOT). */
    static File root(Context context) {
        return new File(context.getExternalFilesDir(null), "convbert_edge");
    }

    /** Artifact directories (those holding a manifest.json), by name. */
    static List<File> list(Context context) {
        List<File> out = new ArrayList<>();
        File[] dirs = root(context).listFiles();
        if (dirs == null) return out;
        Arrays.sort(dirs);
        for (File d : dirs) {
            if (new File(d, Manifest.FILE_NAME).isFile()) out.add(d);
        }
        return out;
    }

    /** The model of an artifact on the runtime its manifest names. */
    static Model open(File directory, Manifest manifest) throws Exception {
        File model = manifest.modelPath(directory);
        switch (manifest.target) {
            case "tflite": return new TfliteModel(model, manifest, THREADS);
            case "executorch": return new ExecuTorchModel(model, manifest);
            default:
                throw new IllegalArgumentException("the app runs tflite and executorch artifacts, not "
                        + manifest.target);
        }
    }
}
