using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GspoSharp.Fuzz.Mutations;

/// <summary>
/// Structure-aware JSON mutations: parse, pick one value (in document order), and write the
/// document back with that value replaced by one of another type, a huge or negative number, a
/// deeper nesting, an odd string; or with its property removed, renamed or duplicated (JSON
/// allows a name twice; the formats GspoSharp reads do not).
/// </summary>
public static class JsonMutator
{
    enum Edit { OtherType, Number, Remove, Duplicate, Rename, Nest, Text, SwapType }

    /// <summary>Deeper documents are left to byte-level steps (the writer below recurses).</summary>
    const int MaxParseDepth = 512;

    /// <summary>The mutated document, or null when <paramref name="utf8"/> is not a JSON document this can rewrite.</summary>
    public static byte[]? Mutate(byte[] utf8, Mutation step) =>
        MutateText(utf8, step) is { } text ? Encoding.UTF8.GetBytes(text) : null;

    public static string? MutateText(ReadOnlySpan<byte> utf8, Mutation step)
    {
        try
        {
            var root = JsonNode.Parse(utf8, documentOptions: new JsonDocumentOptions { MaxDepth = MaxParseDepth });
            var slots = new List<(JsonNode? Parent, object? Key)>();
            Collect(root, null, null, slots);
            var target = slots[(int)(step.Where % (uint)slots.Count)];
            var writer = new Writer(target.Parent, target.Key, (Edit)(step.What % 8), step.How);
            writer.Value(root, null, null);
            return writer.Text.ToString();
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException or FormatException)
        {
            return null;   // not JSON, a duplicate name, an invalid string: leave it to the byte-level steps
        }
    }

    static void Collect(JsonNode? node, JsonNode? parent, object? key, List<(JsonNode?, object?)> slots)
    {
        slots.Add((parent, key));
        switch (node)
        {
            case JsonObject o:
                foreach (var (name, child) in o) Collect(child, o, name, slots);
                break;
            case JsonArray a:
                for (int i = 0; i < a.Count; i++) Collect(a[i], a, i, slots);
                break;
        }
    }

    sealed class Writer(JsonNode? targetParent, object? targetKey, Edit edit, uint how)
    {
        public StringBuilder Text { get; } = new();

        bool IsTarget(JsonNode? parent, object? key) => ReferenceEquals(parent, targetParent) && Equals(key, targetKey);

        public void Value(JsonNode? node, JsonNode? parent, object? key)
        {
            if (!IsTarget(parent, key) || edit is Edit.Duplicate or Edit.Rename || (edit == Edit.Remove && parent is not null))
            {
                Plain(node);
                return;
            }
            switch (edit)
            {
                case Edit.OtherType or Edit.Remove:
                    Text.Append(Fragments.JsonValues[how % (uint)Fragments.JsonValues.Length]);
                    break;
                case Edit.Number:
                    Text.Append(Fragments.Numbers[how % (uint)Fragments.Numbers.Length]);
                    break;
                case Edit.Nest:
                    int depth = Fragments.Depths[how % (uint)Fragments.Depths.Length];
                    bool objects = how / (uint)Fragments.Depths.Length % 2 == 1;
                    for (int i = 0; i < depth; i++) Text.Append(objects ? "{\"a\":" : "[");
                    Plain(node);
                    for (int i = 0; i < depth; i++) Text.Append(objects ? '}' : ']');
                    break;
                case Edit.Text:
                    Text.Append('"').Append(Fragments.Strings[how % (uint)Fragments.Strings.Length]).Append('"');
                    break;
                default:
                    SwapType(node);
                    break;
            }
        }

        /// <summary>The same content as another type: 5 → "5", "5" → 5, [1] → {"0": 1}, {"a": 1} → [1], true → "true".</summary>
        void SwapType(JsonNode? node)
        {
            switch (node)
            {
                case null:
                    Text.Append("{}");
                    break;
                case JsonObject o:
                    Text.Append('[');
                    Join(o.Select(p => p.Value), Plain);
                    Text.Append(']');
                    break;
                case JsonArray a:
                    Text.Append('{');
                    int i = 0;
                    Join(a, item => { Text.Append('"').Append(i++).Append("\":"); Plain(item); });
                    Text.Append('}');
                    break;
                case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                    string s = v.GetValue<string>();
                    Text.Append(double.TryParse(s, out _) && s.Trim().Length > 0 ? s : JsonSerializer.Serialize(new[] { s }));
                    break;
                default:
                    Text.Append(JsonSerializer.Serialize(node.ToJsonString()));
                    break;
            }
        }

        void Plain(JsonNode? node)
        {
            switch (node)
            {
                case JsonObject o:
                    Text.Append('{');
                    bool first = true;
                    foreach (var (name, child) in o)
                    {
                        bool target = IsTarget(o, name);
                        if (target && edit == Edit.Remove) continue;
                        string written = target && edit == Edit.Rename ? RenamedKey(o) : JsonSerializer.Serialize(name);
                        Property(written, child, o, name, ref first);
                        if (target && edit == Edit.Duplicate)
                        {
                            // The second copy differs when how is odd: a reader that keeps either one must say which.
                            Text.Append(',').Append(JsonSerializer.Serialize(name)).Append(':');
                            if (how % 2 == 1) Text.Append(Fragments.JsonValues[how / 2 % (uint)Fragments.JsonValues.Length]);
                            else Plain(child);
                        }
                    }
                    Text.Append('}');
                    break;
                case JsonArray a:
                    Text.Append('[');
                    bool firstItem = true;
                    for (int i = 0; i < a.Count; i++)
                    {
                        bool target = IsTarget(a, i);
                        if (target && edit == Edit.Remove) continue;
                        if (!firstItem) Text.Append(',');
                        firstItem = false;
                        Value(a[i], a, i);
                        if (target && edit == Edit.Duplicate)
                        {
                            Text.Append(',');
                            Plain(a[i]);
                        }
                    }
                    Text.Append(']');
                    break;
                case null:
                    Text.Append("null");
                    break;
                default:
                    Text.Append(node.ToJsonString());
                    break;
            }
        }

        void Property(string writtenName, JsonNode? child, JsonObject parent, string name, ref bool first)
        {
            if (!first) Text.Append(',');
            first = false;
            Text.Append(writtenName).Append(':');
            Value(child, parent, name);
        }

        string RenamedKey(JsonObject parent)
        {
            uint choice = how % (uint)(Fragments.Keys.Length + 1);
            // The last choice is the name of a sibling: a duplicate made by renaming.
            if (choice == Fragments.Keys.Length) return JsonSerializer.Serialize(parent.Select(p => p.Key).First());
            string key = Fragments.Keys[choice];
            return key.StartsWith('\\') ? $"\"{key}\"" : JsonSerializer.Serialize(key);
        }

        void Join<T>(IEnumerable<T> items, Action<T> write)
        {
            bool first = true;
            foreach (var item in items)
            {
                if (!first) Text.Append(',');
                first = false;
                write(item);
            }
        }
    }
}
