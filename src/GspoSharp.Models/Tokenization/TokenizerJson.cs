using System.Text;
using System.Text.Json;

namespace GspoSharp.Models.Tokenization;

/// <summary>The parts of a tokenizer.json that decide how text becomes ids.</summary>
/// <param name="Normalizer">"normalizer".</param>
/// <param name="Splitter">"pre_tokenizer".</param>
/// <param name="Model">"model" (BPE).</param>
/// <param name="AddedTokens">"added_tokens".</param>
/// <param name="PrefixIds">Ids the "post_processor" puts before a single sequence.</param>
/// <param name="SuffixIds">Ids the "post_processor" puts after a single sequence.</param>
internal sealed record TokenizerDefinition(TextNormalizer Normalizer, WordSplitter Splitter, ByteLevelBpe Model,
    IReadOnlyList<AddedToken> AddedTokens, IReadOnlyList<int> PrefixIds, IReadOnlyList<int> SuffixIds);

/// <summary>
/// Reads a Hugging Face tokenizer.json. Every field that changes the ids of a text is either
/// implemented or refused with a <see cref="ModelFormatException"/> that names the file and the
/// field: GspoSharp never silently tokenizes differently from the file.
/// </summary>
internal static class TokenizerJson
{
    public static TokenizerDefinition Read(string path)
    {
        using var document = JsonFile.Parse(path);
        var root = document.RootElement;
        var file = new JsonFile(path);
        if (root.ValueKind != JsonValueKind.Object) throw file.Error("(root)", "expected a JSON object.");

        foreach (var field in new[] { "truncation", "padding" })
            if (root.TryGetProperty(field, out var value) && value.ValueKind != JsonValueKind.Null)
                throw file.Error(field, "is set, but GspoSharp encodes without truncation or padding; set it to null.");

        var normalizer = new TextNormalizer(Normalizations(file, root.TryGetProperty("normalizer", out var n) ? n : default, "normalizer"));
        var splitter = PreTokenizer(file, root);
        var model = Model(file, root);
        var added = AddedTokens(file, root);
        var (prefix, suffix) = root.TryGetProperty("post_processor", out var post) && post.ValueKind != JsonValueKind.Null
            ? PostProcessor(file, post, "post_processor") : ([], []);
        Decoder(file, root);
        return new TokenizerDefinition(normalizer, splitter, model, added, prefix, suffix);
    }

    static IEnumerable<NormalizationForm> Normalizations(JsonFile file, JsonElement element, string field)
    {
        if (element.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) return [];
        string type = file.Type(element, field);
        if (type == "Sequence")
            return file.Array(element, "normalizers", field)
                .SelectMany((step, i) => Normalizations(file, step, $"{field}.normalizers[{i}]")).ToList();
        return TextNormalizer.FormOf(type) is { } form
            ? [form]
            : throw file.Error($"{field}.type", $"'{type}' is not supported (GspoSharp implements NFC, NFD, NFKC, NFKD and a Sequence of them).");
    }

    static WordSplitter PreTokenizer(JsonFile file, JsonElement root)
    {
        const string field = "pre_tokenizer";
        if (!root.TryGetProperty(field, out var element) || element.ValueKind == JsonValueKind.Null)
            throw file.Error(field, "is missing; GspoSharp implements byte-level BPE, which needs a ByteLevel pre-tokenizer.");
        var steps = new List<(JsonElement Step, string Field)>();
        Flatten(element, field);
        void Flatten(JsonElement step, string where)
        {
            if (file.Type(step, where) == "Sequence")
            {
                int i = 0;
                foreach (var inner in file.Array(step, "pretokenizers", where)) Flatten(inner, $"{where}.pretokenizers[{i++}]");
            }
            else steps.Add((step, where));
        }

        var splits = new List<IsolatingRegex>();
        for (int i = 0; i < steps.Count; i++)
        {
            var (step, where) = steps[i];
            string type = file.Type(step, where);
            bool last = i == steps.Count - 1;
            if (type == "Split" && !last)
                splits.Add(Split(file, step, where));
            else if (type == "ByteLevel" && last)
            {
                bool prefixSpace = file.Bool(step, "add_prefix_space", where, defaultValue: true);
                bool useRegex = file.Bool(step, "use_regex", where, defaultValue: true);
                return new WordSplitter(splits, prefixSpace,
                    useRegex ? new IsolatingRegex(IsolatingRegex.Gpt2Pattern, $"{file.Path}: {where}") : null);
            }
            else if (type is "Split" or "ByteLevel")
                throw file.Error($"{where}.type", "GspoSharp implements Split steps followed by one final ByteLevel step; this order is not supported.");
            else
                throw file.Error($"{where}.type", $"'{type}' is not supported (GspoSharp implements Split and ByteLevel pre-tokenizers).");
        }
        throw file.Error(field, "has no ByteLevel step; GspoSharp implements byte-level BPE only.");
    }

    static IsolatingRegex Split(JsonFile file, JsonElement step, string where)
    {
        string behavior = file.String(step, "behavior", where) ?? "(missing)";
        if (behavior != "Isolated")
            throw file.Error($"{where}.behavior", $"'{behavior}' is not supported (GspoSharp implements Isolated).");
        if (file.Bool(step, "invert", where, defaultValue: false))
            throw file.Error($"{where}.invert", "true is not supported.");
        if (!step.TryGetProperty("pattern", out var pattern) || pattern.ValueKind != JsonValueKind.Object)
            throw file.Error($"{where}.pattern", "expected an object with a \"Regex\" or \"String\" pattern.");
        if (file.String(pattern, "Regex", $"{where}.pattern") is { } regex)
            return new IsolatingRegex(regex, $"{file.Path}: {where}.pattern.Regex");
        if (file.String(pattern, "String", $"{where}.pattern") is { } literal)
            return new IsolatingRegex(System.Text.RegularExpressions.Regex.Escape(literal), $"{file.Path}: {where}.pattern.String");
        throw file.Error($"{where}.pattern", "expected a \"Regex\" or \"String\" pattern.");
    }

    static ByteLevelBpe Model(JsonFile file, JsonElement root)
    {
        const string field = "model";
        if (!root.TryGetProperty(field, out var model) || model.ValueKind != JsonValueKind.Object)
            throw file.Error(field, "is missing.");
        string type = file.String(model, "type", field) ?? "BPE";
        if (type != "BPE")
            throw file.Error($"{field}.type", $"'{type}' is not supported (GspoSharp implements byte-level BPE).");
        if (model.TryGetProperty("dropout", out var dropout) && dropout.ValueKind != JsonValueKind.Null &&
            !(dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() == 0))
            throw file.Error($"{field}.dropout", "BPE dropout is not supported; it must be null.");
        if (file.Bool(model, "byte_fallback", field, defaultValue: false))
            throw file.Error($"{field}.byte_fallback", "true is not supported (byte-level BPE needs no byte fallback).");
        foreach (var affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (!string.IsNullOrEmpty(file.String(model, affix, field)))
                throw file.Error($"{field}.{affix}", "is not supported with byte-level BPE; it must be null or empty.");

        if (!model.TryGetProperty("vocab", out var vocabElement) || vocabElement.ValueKind != JsonValueKind.Object)
            throw file.Error($"{field}.vocab", "expected an object of token → id.");
        var vocab = new Dictionary<string, int>();
        var tokenOf = new Dictionary<int, string>();
        foreach (var entry in vocabElement.EnumerateObject())
        {
            int id = entry.Value.ValueKind == JsonValueKind.Number && entry.Value.TryGetInt32(out int v) && v >= 0
                ? v : throw file.Error($"{field}.vocab[\"{entry.Name}\"]", "expected an id ≥ 0.");
            // Decoding maps an id back to one token: two tokens with one id make that ambiguous.
            if (!tokenOf.TryAdd(id, entry.Name))
                throw file.Error($"{field}.vocab[\"{entry.Name}\"]", $"id {id} is also the id of \"{tokenOf[id]}\".");
            vocab[entry.Name] = id;
        }

        var merges = new List<string>();
        int index = 0;
        foreach (var merge in file.Array(model, "merges", field)) merges.Add(Merge(file, merge, field, index++));
        // A pair listed twice keeps its later rank, as in the Hugging Face reader (a hash map).
        if (new HashSet<string>(merges, StringComparer.Ordinal).Count < merges.Count)
        {
            var lastIndex = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i < merges.Count; i++) lastIndex[merges[i]] = i;
            merges = merges.Where((merge, i) => lastIndex[merge] == i).ToList();
        }

        return new ByteLevelBpe(vocab, merges, file.Bool(model, "ignore_merges", field, defaultValue: false),
            file.String(model, "unk_token", field), file.Bool(model, "fuse_unk", field, defaultValue: false), $"{file.Path}: {field}");
    }

    /// <summary>
    /// One merge as the "left right" string ML.Tokenizers takes. A part of the [left, right] form
    /// cannot contain a space then; byte-level vocabularies never do (a space is 'Ġ').
    /// </summary>
    static string Merge(JsonFile file, JsonElement merge, string field, int index)
    {
        string? text = merge.ValueKind switch
        {
            JsonValueKind.String => merge.GetString(),
            JsonValueKind.Array when merge.GetArrayLength() == 2 && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String
                && !merge[0].GetString()!.Contains(' ') && !merge[1].GetString()!.Contains(' ')
                => merge[0].GetString() + " " + merge[1].GetString(),
            _ => null,
        };
        int space = text?.IndexOf(' ') ?? -1;
        if (text is null || space <= 0 || space == text.Length - 1 || text.IndexOf(' ', space + 1) >= 0)
            throw file.Error($"{field}.merges[{index}]", "expected \"left right\" or [\"left\", \"right\"] (byte-level tokens contain no space).");
        return text;
    }

    static List<AddedToken> AddedTokens(JsonFile file, JsonElement root)
    {
        var tokens = new List<AddedToken>();
        if (!root.TryGetProperty("added_tokens", out var list) || list.ValueKind == JsonValueKind.Null) return tokens;
        int i = 0;
        foreach (var token in file.Array(root, "added_tokens", "(root)"))
        {
            string where = $"added_tokens[{i++}]";
            if (token.ValueKind != JsonValueKind.Object) throw file.Error(where, "expected an object.");
            int id = token.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.Number && idElement.TryGetInt32(out int v) && v >= 0
                ? v : throw file.Error($"{where}.id", "expected an id ≥ 0.");
            string content = file.String(token, "content", where) ?? throw file.Error($"{where}.content", "is missing.");
            bool special = file.Bool(token, "special", where, defaultValue: false);
            tokens.Add(new AddedToken(id, content,
                SingleWord: file.Bool(token, "single_word", where, defaultValue: false),
                LStrip: file.Bool(token, "lstrip", where, defaultValue: false),
                RStrip: file.Bool(token, "rstrip", where, defaultValue: false),
                Normalized: file.Bool(token, "normalized", where, defaultValue: !special),
                Special: special));
        }
        return tokens;
    }

    /// <summary>The ids the post-processor would add around a single sequence (GspoSharp never adds them).</summary>
    static (List<int> Prefix, List<int> Suffix) PostProcessor(JsonFile file, JsonElement element, string field)
    {
        var prefix = new List<int>();
        var suffix = new List<int>();
        switch (file.Type(element, field))
        {
            case "ByteLevel":   // only moves offsets
                break;
            case "Sequence":
                int i = 0;
                foreach (var inner in file.Array(element, "processors", field))
                {
                    var (p, s) = PostProcessor(file, inner, $"{field}.processors[{i++}]");
                    prefix.InsertRange(0, p);   // a later processor wraps what the earlier ones made
                    suffix.AddRange(s);
                }
                break;
            case "TemplateProcessing":
                var specials = element.TryGetProperty("special_tokens", out var map) && map.ValueKind == JsonValueKind.Object
                    ? map : throw file.Error($"{field}.special_tokens", "expected an object.");
                bool afterSequence = false;
                int j = 0;
                foreach (var piece in file.Array(element, "single", field))
                {
                    string where = $"{field}.single[{j++}]";
                    if (piece.ValueKind != JsonValueKind.Object)
                        throw file.Error(where, "expected an object with a \"Sequence\" or a \"SpecialToken\".");
                    if (piece.TryGetProperty("Sequence", out _)) { afterSequence = true; continue; }
                    string name = piece.TryGetProperty("SpecialToken", out var special) ? file.String(special, "id", where) ?? "" : "";
                    if (!specials.TryGetProperty(name, out var entry) || entry.ValueKind != JsonValueKind.Object ||
                        !entry.TryGetProperty("ids", out var ids) || ids.ValueKind != JsonValueKind.Array)
                        throw file.Error(where, $"special token '{name}' has no ids in {field}.special_tokens.");
                    (afterSequence ? suffix : prefix).AddRange(ids.EnumerateArray().Select(x =>
                        x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out int id) ? id : throw file.Error(where, $"special token '{name}' has an id that is not a number.")));
                }
                break;
            case var type:
                throw file.Error($"{field}.type", $"'{type}' is not supported (GspoSharp implements ByteLevel, TemplateProcessing and a Sequence of them).");
        }
        return (prefix, suffix);
    }

    static void Decoder(JsonFile file, JsonElement root)
    {
        if (!root.TryGetProperty("decoder", out var decoder) || decoder.ValueKind == JsonValueKind.Null)
            throw file.Error("decoder", "is missing; GspoSharp implements the ByteLevel decoder.");
        string type = file.Type(decoder, "decoder");
        if (type != "ByteLevel")
            throw file.Error("decoder.type", $"'{type}' is not supported (GspoSharp implements ByteLevel).");
    }
}
