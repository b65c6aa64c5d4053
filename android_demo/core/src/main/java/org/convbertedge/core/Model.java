package org.convbertedge.core;

import java.util.Map;

/** A loaded artifact on some runtime: one call, inputs and outputs keyed by manifest name. */
public interface Model extends AutoCloseable {
    /** Raw outputs (int8 outputs still quantized); shapes as in the manifest. */
    Map<String, NdArray> run(Map<String, NdArray> inputs) throws Exception;

    @Override
    void close();
}
