package org.convbertedge.demo;

import android.app.Activity;
import android.os.Bundle;
import android.util.Log;
import android.widget.TextView;

import java.io.File;

import org.convbertedge.core.GoldenRunner;
import org.convbertedge.core.Manifest;
import org.convbertedge.core.Model;

/**
 * Verify mode: runs every golden call of the artifact named by the "artifact" extra and
 * writes verify/outputs.npz and verify/done beside it (GoldenRunner), for
 * `python -m convbert_edge.verify DIR --device adb` to pull and check.
 *
 * <pre>adb shell am start -W -n org.convbertedge.demo/.VerifyActivity --es artifact DIR</pre>
 */
public final class VerifyActivity extends Activity {
    private TextView status;

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        status = new TextView(this);
        status.setPadding(32, 32, 32, 32);
        setContentView(status);
        String path = getIntent().getStringExtra("artifact");
        if (path == null) {
            status.setText("verify mode needs --es artifact DIR");
            return;
        }
        final File artifact = new File(path);
        status.setText("verifying " + artifact.getName() + " …");
        // Anonymous classes, not lambdas: see MainActivity.
        new Thread(new Runnable() {
            @Override
            public void run() {
                verify(artifact);
            }
        }, "convbert-verify").start();
    }

    private void verify(final File artifact) {
        String message;
        try {
            Manifest manifest = Manifest.read(artifact);
            try (Model model = Artifacts.open(artifact, manifest)) {
                message = GoldenRunner.run(artifact, model, manifest);
            }
        } catch (Throwable err) {  // OutOfMemoryError and native errors must reach the done-file too
            message = "error: " + err;
            Log.e(Artifacts.TAG, "verify mode failed on " + artifact, err);
            try {
                GoldenRunner.reportError(artifact, err);
            } catch (Exception writeErr) {
                Log.e(Artifacts.TAG, "could not write the done-file", writeErr);
            }
        }
        Log.i(Artifacts.TAG, artifact + ": " + message);
        final String shown = message;
        runOnUiThread(new Runnable() {
            @Override
            public void run() {
                status.setText(artifact.getName() + "\n" + shown);
            }
        });
    }
}
