package org.convbertedge.demo;

import android.app.Activity;
import android.os.Bundle;
import android.util.Log;
import android.view.View;
import android.view.ViewGroup;
import android.widget.ArrayAdapter;
import android.widget.Button;
import android.widget.EditText;
import android.widget.LinearLayout;
import android.widget.Spinner;
import android.widget.TextView;

import java.io.File;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import org.convbertedge.core.Manifest;
import org.convbertedge.core.Model;
import org.convbertedge.core.NdArray;
import org.convbertedge.core.TextInputs;
import org.convbertedge.core.WordPieceTokenizer;

/**
 * Pick an artifact, type a text, see the label and how long the model took.
 * Artifacts are pushed to files/convbert_edge/NAME (docs/android.md).
 */
public final class MainActivity extends Activity {
    private final ExecutorService worker = Executors.newSingleThreadExecutor();
    private List<File> artifacts;
    private Spinner picker;
    private EditText text;
    private TextView result;

    // Touched only on the worker thread.
    private File loadedDir;
    private Manifest manifest;
    private WordPieceTokenizer tokenizer;
    private Model model;

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        LinearLayout layout = new LinearLayout(this);
        layout.setOrientation(LinearLayout.VERTICAL);
        layout.setPadding(32, 32, 32, 32);
        picker = new Spinner(this);
        text = new EditText(this);
        text.setHint("Type a sentence");
        text.setMinLines(3);
        Button run = new Button(this);
        run.setText("Run");
        result = new TextView(this);
        result.setTextSize(18);
        for (View v : new View[] {picker, text, run, result}) {
            layout.addView(v, new LinearLayout.LayoutParams(
                    ViewGroup.LayoutParams.MATCH_PARENT, ViewGroup.LayoutParams.WRAP_CONTENT));
        }
        setContentView(layout);

        artifacts = Artifacts.list(this);
        String[] names = new String[artifacts.size()];
        for (int i = 0; i < names.length; i++) names[i] = artifacts.get(i).getName();
        picker.setAdapter(new ArrayAdapter<>(this, android.R.layout.simple_spinner_dropdown_item, names));
        if (artifacts.isEmpty()) {
            result.setText("No artifacts in " + Artifacts.root(this) + ".\nPush one: see docs/android.md.");
            run.setEnabled(false);
        }
        // Anonymous classes, not lambdas: javac cannot compile lambdas against the API-23
        // platform jar of the compile check (no java.lang.invoke there).
        run.setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                final File dir = artifacts.get(picker.getSelectedItemPosition());
                final String typed = text.getText().toString();
                result.setText("running …");
                worker.execute(new Runnable() {
                    @Override
                    public void run() {
                        classify(dir, typed);
                    }
                });
            }
        });
    }

    private void classify(File dir, String typed) {
        String shown;
        try {
            if (!dir.equals(loadedDir)) load(dir);
            long t0 = System.nanoTime();
            Map<String, NdArray> inputs = TextInputs.encode(tokenizer, manifest, typed);
            long t1 = System.nanoTime();
            Map<String, NdArray> outputs = model.run(inputs);
            long t2 = System.nanoTime();
            shown = String.format("%s\n\nmodel %.1f ms, tokenizer %.2f ms\n%s %s on %d threads",
                    TextInputs.topLabel(manifest, outputs), (t2 - t1) / 1e6, (t1 - t0) / 1e6,
                    manifest.target, manifest.quantization, Artifacts.THREADS);
        } catch (Throwable err) {
            Log.e(Artifacts.TAG, "run failed", err);
            shown = "error: " + err;
        }
        final String text = shown;
        runOnUiThread(new Runnable() {
            @Override
            public void run() {
                result.setText(text);
            }
        });
    }

    private void load(File dir) throws Exception {
        if (model != null) model.close();
        model = null;
        loadedDir = null;
        manifest = Manifest.read(dir);
        tokenizer = WordPieceTokenizer.fromDirectory(dir);
        model = Artifacts.open(dir, manifest);
        loadedDir = dir;
    }

    @Override
    protected void onDestroy() {
        worker.execute(new Runnable() {
            @Override
            public void run() {
                if (model != null) model.close();
            }
        });
        worker.shutdown();
        super.onDestroy();
    }
}
