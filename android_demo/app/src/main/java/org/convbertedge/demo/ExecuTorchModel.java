package org.convbertedge.demo;

import java.io.File;
import java.util.LinkedHashMap;
import java.util.Map;

import org.convbertedge.core.Manifest;
import org.convbertedge.core.Model;
import org.convbertedge.core.NdArray;
import org.pytorch.executorch.EValue;
import org.pytorch.executorch.Module;
import org.pytorch.executorch.Tensor;

/**
 * A .pte artifact on ExecuTorch's Module: forward() takes the inputs in manifest order and
 * returns the outputs in manifest order, as executorch.runtime does on the Python side.
 */
final class ExecuTorchModel implements Model {
    private final Module module;
    private final Manifest manifest;

    ExecuTorchModel(File modelFile, Manifest manifest) {
        this.module = Module.load(modelFile.getAbsolutePath());
        this.manifest = manifest;
    }

    @Override
    public Map<String, NdArray> run(Map<String, NdArray> inputs) {
        EValue[] args = new EValue[manifest.inputs.size()];
        for (int i = 0; i < args.length; i++) {
            Manifest.TensorSpec spec = manifest.inputs.get(i);
            long[] shape = new long[spec.shape.length];
            for (int k = 0; k < shape.length; k++) shape[k] = spec.shape[k];
            args[i] = EValue.from(Tensor.fromBlob(inputs.get(spec.name).toInts(), shape));
        }
        EValue[] results = module.forward(args);
        if (results.length != manifest.outputs.size()) {
            throw new IllegalStateException("the model returned " + results.length + " outputs, the manifest lists "
                    + manifest.outputs.size());
        }
        Map<String, NdArray> out = new LinkedHashMap<>();
        for (int i = 0; i < results.length; i++) {
            Manifest.TensorSpec spec = manifest.outputs.get(i);
            if (!spec.dtype.equals("float32")) {
                throw new IllegalStateException("output " + spec.name + " is " + spec.dtype + "; .pte outputs are float32");
            }
            float[] values = results[i].toTensor().getDataAsFloatArray();
            out.put(spec.name, NdArray.ofFloats(values, spec.shape));
        }
        return out;
    }

    @Override
    public void close() {
        module.destroy();
    }
}
