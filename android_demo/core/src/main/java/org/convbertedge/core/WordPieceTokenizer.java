package org.convbertedge.core;

import java.io.File;
import java.io.IOException;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * BERT's uncased/cased WordPiece tokenizer, giving the ids of convbert_edge's
 * ConvBertTokenizerFast (the `tokenizers` BertNormalizer -> BertPreTokenizer -> WordPiece).
 *
 * <p>Normalization: drop NUL, U+FFFD and control characters, turn whitespace into spaces,
 * surround CJK ideographs with spaces, NFD + drop non-spacing marks (strip accents),
 * lower-case each code point. Words split on whitespace and punctuation (Unicode P* and the
 * ASCII symbols). Special tokens written in the text ("[SEP]") stay whole, as they do
 * in the fast tokenizer.
 *
 * <p>Example: {@code tok.encode("a fine film", 128).inputIds} is [CLS] a fine film [SEP] + padding.
 */
public final class WordPieceTokenizer {
    public static final String UNK = "[UNK]", CLS = "[CLS]", SEP = "[SEP]", PAD = "[PAD]", MASK = "[MASK]";
    private static final String[] SPECIALS = {UNK, SEP, PAD, CLS, MASK};
    private static final int MAX_WORD_CHARS = 100;

    /** One encoded text: ids, attention mask and token types, each maxLength long. */
    public static final class Encoding {
        public final int[] inputIds;
        public final int[] attentionMask;
        public final int[] tokenTypeIds;
        public final boolean truncated;

        Encoding(int[] inputIds, int[] attentionMask, int[] tokenTypeIds, boolean truncated) {
            this.inputIds = inputIds;
            this.attentionMask = attentionMask;
            this.tokenTypeIds = tokenTypeIds;
            this.truncated = truncated;
        }
    }

    private final Map<String, Integer> vocab = new HashMap<>();
    private final boolean lowerCase;
    private final boolean stripAccents;
    private final boolean chineseChars;

    /**
     * @param tokens the vocabulary, id = position
     * @param lowerCase lower-case text (uncased vocabularies)
     * @param stripAccents drop accents; null means "same as lowerCase"
     * @param chineseChars split CJK ideographs into single-character words
     */
    public WordPieceTokenizer(List<String> tokens, boolean lowerCase, Boolean stripAccents, boolean chineseChars) {
        for (int i = 0; i < tokens.size(); i++) {
            if (!vocab.containsKey(tokens.get(i))) vocab.put(tokens.get(i), i);  // the first id wins
        }
        for (String s : SPECIALS) {
            if (!vocab.containsKey(s)) throw new IllegalArgumentException("the vocabulary has no " + s);
        }
        this.lowerCase = lowerCase;
        this.stripAccents = stripAccents == null ? lowerCase : stripAccents;
        this.chineseChars = chineseChars;
    }

    /** The tokenizer an artifact directory describes: vocab.txt + tokenizer_config.json. */
    @SuppressWarnings("unchecked")
    public static WordPieceTokenizer fromDirectory(File directory) throws IOException {
        File vocabFile = new File(directory, "vocab.txt");
        if (!vocabFile.isFile()) throw new IOException("no vocab.txt in " + directory);
        List<String> tokens = new ArrayList<>();
        for (String line : Utf8Files.readLines(vocabFile)) tokens.add(line.trim());
        boolean lower = true;
        Boolean strip = null;
        boolean chinese = true;
        File config = new File(directory, "tokenizer_config.json");
        if (config.isFile()) {
            Map<String, Object> c = (Map<String, Object>) Json.parse(Utf8Files.read(config));
            if (c.get("do_lower_case") instanceof Boolean) lower = (Boolean) c.get("do_lower_case");
            if (c.get("strip_accents") instanceof Boolean) strip = (Boolean) c.get("strip_accents");
            if (c.get("tokenize_chinese_chars") instanceof Boolean) chinese = (Boolean) c.get("tokenize_chinese_chars");
        }
        return new WordPieceTokenizer(tokens, lower, strip, chinese);
    }

    public int id(String token) {
        Integer id = vocab.get(token);
        return id == null ? vocab.get(UNK) : id;
    }

    /** [CLS] tokens [SEP], cut to maxLength and padded with [PAD] to exactly maxLength. */
    public Encoding encode(String text, int maxLength) {
        if (maxLength < 2) throw new IllegalArgumentException("maxLength " + maxLength + " leaves no room for [CLS] and [SEP]");
        List<String> tokens = tokenize(text);
        boolean truncated = tokens.size() > maxLength - 2;
        if (truncated) tokens = tokens.subList(0, maxLength - 2);
        int[] ids = new int[maxLength];
        int[] mask = new int[maxLength];
        int n = 0;
        ids[n++] = id(CLS);
        for (String t : tokens) ids[n++] = id(t);
        ids[n++] = id(SEP);
        for (int i = 0; i < n; i++) mask[i] = 1;
        int pad = id(PAD);
        for (int i = n; i < maxLength; i++) ids[i] = pad;
        return new Encoding(ids, mask, new int[maxLength], truncated);
    }

    /** Word pieces of the text, without [CLS]/[SEP]. */
    public List<String> tokenize(String text) {
        List<String> out = new ArrayList<>();
        int start = 0;
        while (start <= text.length()) {
            int at = -1;
            String found = null;
            for (String s : SPECIALS) {
                int k = text.indexOf(s, start);
                if (k >= 0 && (at < 0 || k < at)) {
                    at = k;
                    found = s;
                }
            }
            String chunk = at < 0 ? text.substring(start) : text.substring(start, at);
            for (String word : splitWords(normalize(chunk))) wordPieces(word, out);
            if (found == null) break;
            out.add(found);
            start = at + found.length();
        }
        return out;
    }

    String normalize(String text) {
        StringBuilder b = new StringBuilder(text.length());
        for (int c : codePoints(text)) {
            if (c == 0 || c == 0xFFFD || isControl(c)) continue;
            if (isWhitespace(c)) b.append(' ');
            else if (chineseChars && isChinese(c)) b.append(' ').appendCodePoint(c).append(' ');
            else b.appendCodePoint(c);
        }
        String s = b.toString();
        if (stripAccents) {
            StringBuilder kept = new StringBuilder(s.length());
            for (int c : codePoints(Normalizer.normalize(s, Normalizer.Form.NFD))) {
                if (Character.getType(c) != Character.NON_SPACING_MARK) kept.appendCodePoint(c);
            }
            s = kept.toString();
        }
        if (lowerCase) {
            StringBuilder low = new StringBuilder(s.length());
            for (int c : codePoints(s)) {
                // Rust's char::to_lowercase is the full mapping: only U+0130 maps to two chars.
                if (c == 0x130) low.append("i\u0307");
                else low.appendCodePoint(Character.toLowerCase(c));
            }
            s = low.toString();
        }
        return s;
    }

    /** The code points of s; String.codePoints() is API 24, above the API-23 compile check. */
    static int[] codePoints(String s) {
        int[] out = new int[s.codePointCount(0, s.length())];
        for (int i = 0, k = 0; i < s.length(); k++) {
            out[k] = s.codePointAt(i);
            i += Character.charCount(out[k]);
        }
        return out;
    }

    private static List<String> splitWords(String text) {
        List<String> words = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (int c : codePoints(text)) {
            if (isWhitespace(c)) {
                flush(cur, words);
            } else if (isPunctuation(c)) {
                flush(cur, words);
                words.add(new String(Character.toChars(c)));
            } else {
                cur.appendCodePoint(c);
            }
        }
        flush(cur, words);
        return words;
    }

    private static void flush(StringBuilder cur, List<String> words) {
        if (cur.length() > 0) {
            words.add(cur.toString());
            cur.setLength(0);
        }
    }

    private void wordPieces(String word, List<String> out) {
        int[] cps = codePoints(word);
        if (cps.length > MAX_WORD_CHARS) {
            out.add(UNK);
            return;
        }
        List<String> pieces = new ArrayList<>();
        int start = 0;
        while (start < cps.length) {
            int end = cps.length;
            String match = null;
            while (start < end) {
                String sub = new String(cps, start, end - start);
                if (start > 0) sub = "##" + sub;
                if (vocab.containsKey(sub)) {
                    match = sub;
                    break;
                }
                end--;
            }
            if (match == null) {
                out.add(UNK);
                return;
            }
            pieces.add(match);
            start = end;
        }
        out.addAll(pieces);
    }

    /** Unicode White_Space, as Rust's char::is_whitespace. */
    static boolean isWhitespace(int c) {
        return (c >= 0x09 && c <= 0x0D) || c == 0x85 || Character.isSpaceChar(c);
    }

    /** "Other" categories (Cc, Cf, Co, Cs, Cn) except tab, newline and carriage return. */
    static boolean isControl(int c) {
        if (c == '\t' || c == '\n' || c == '\r') return false;
        switch (Character.getType(c)) {
            case Character.CONTROL:
            case Character.FORMAT:
            case Character.PRIVATE_USE:
            case Character.SURROGATE:
            case Character.UNASSIGNED:
                return true;
            default:
                return false;
        }
    }

    static boolean isPunctuation(int c) {
        if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) {
            return true;
        }
        switch (Character.getType(c)) {
            case Character.CONNECTOR_PUNCTUATION:
            case Character.DASH_PUNCTUATION:
            case Character.START_PUNCTUATION:
            case Character.END_PUNCTUATION:
            case Character.INITIAL_QUOTE_PUNCTUATION:
            case Character.FINAL_QUOTE_PUNCTUATION:
            case Character.OTHER_PUNCTUATION:
                return true;
            default:
                return false;
        }
    }

    static boolean isChinese(int c) {
        return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF)
                || (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F)
                || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF)
                || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
    }
}
