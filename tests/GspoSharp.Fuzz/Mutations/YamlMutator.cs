using System.Text;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace GspoSharp.Fuzz.Mutations;

/// <summary>
/// Structure-aware YAML mutations: parse, pick one value (in document order), and write the
/// document back (mappings in block style, the rest in flow style) with that value replaced by
/// one of another type, a huge or negative number, anchors and aliases (also recursive ones), a
/// deeper nesting, an odd string; or with its entry removed, renamed (also to a non-scalar key)
/// or duplicated.
/// </summary>
public static class YamlMutator
{
    enum Edit { OtherType, Number, Remove, Duplicate, Rename, Nest, Text, SwapType }

    static readonly string[] Values =
    [
        "~", "null", "", "true", "yes", "off", "0", "-1", "1e400", ".nan", ".inf", "-.inf", "0x7FFFFFFF", "0o777", "1_000",
        "9223372036854775808", "-9223372036854775809", "[]", "[1, 2]", "[[1]]", "{}", "{a: 1}", "''", "\"\"", "\"\\ud800\"",
        "\"\\x00\"", "!!binary AAAA", "!!int 12", "!!str 12", "!!float x", "!!map {}", "!!seq []", "!custom x", "&fz 1",
        "*fz", "*undefined", "&fz [1, *fz]", "&fz {a: *fz}", "|\n    multi\n    line", ">-\n    folded", "? a", "- a", "@x", "`x",
        "%x", "a: b", "a #c", "\"unterminated", "[1, 2", "{a: 1",
    ];

    static readonly string[] Keys =
    [
        "\"\"", "~", "null", "[a, b]", "{a: 1}", "<<", "? x", "\"\\ud800\"", "&k k", "*k", "1", "true", "name", "seeds", "base",
        "models", "arms", "learning_rate", "max_steps", "model", "dataset", "Models", "learning-rate",
    ];

    /// <summary>Deeper documents are left to byte-level steps: building YamlDotNet's node tree and the writer below both recurse.</summary>
    const int MaxDepth = 256;

    public static byte[]? Mutate(byte[] bytes, Mutation step)
    {
        try
        {
            string text = new UTF8Encoding(false, true).GetString(bytes);
            if (DepthExceeds(text, MaxDepth)) return null;
            var stream = new YamlStream();
            stream.Load(new StringReader(text));
            if (stream.Documents.Count == 0) return null;
            var root = stream.Documents[0].RootNode;
            var slots = new List<(YamlNode? Parent, object? Key)>();
            Collect(root, null, null, slots, new HashSet<YamlNode>(ReferenceEqualityComparer.Instance));
            var target = slots[(int)(step.Where % (uint)slots.Count)];
            var writer = new Writer(target.Parent, target.Key, (Edit)(step.What % 8), step.How);
            writer.Root(root);
            return Encoding.UTF8.GetBytes(writer.Text.ToString());
        }
        catch (Exception e) when (e is YamlException or DecoderFallbackException or ArgumentException or InvalidCastException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Whether collections nest deeper than <paramref name="max"/>, found with the event parser, which does not recurse.</summary>
    static bool DepthExceeds(string text, int max)
    {
        var parser = new Parser(new StringReader(text));
        int depth = 0;
        while (parser.MoveNext())
        {
            if (parser.Current is MappingStart or SequenceStart && ++depth > max) return true;
            if (parser.Current is MappingEnd or SequenceEnd) depth--;
        }
        return false;
    }

    static void Collect(YamlNode node, YamlNode? parent, object? key, List<(YamlNode?, object?)> slots, HashSet<YamlNode> seen)
    {
        slots.Add((parent, key));
        if (!seen.Add(node)) return;   // an alias: the same node again
        switch (node)
        {
            case YamlMappingNode m:
                foreach (var (k, v) in m.Children) Collect(v, m, k, slots, seen);
                break;
            case YamlSequenceNode s:
                for (int i = 0; i < s.Children.Count; i++) Collect(s.Children[i], s, i, slots, seen);
                break;
        }
    }

    sealed class Writer(YamlNode? targetParent, object? targetKey, Edit edit, uint how)
    {
        public StringBuilder Text { get; } = new();
        readonly HashSet<YamlNode> _open = new(ReferenceEqualityComparer.Instance);

        bool IsTarget(YamlNode? parent, object? key) => ReferenceEquals(parent, targetParent) && Equals(key, targetKey);

        public void Root(YamlNode root)
        {
            if (root is YamlMappingNode m && !IsTarget(null, null)) Block(m, 0);
            else Value(root, null, null);
            Text.Append('\n');
        }

        void Block(YamlMappingNode mapping, int indent)
        {
            foreach (var (key, value) in mapping.Children)
            {
                bool target = IsTarget(mapping, key);
                if (target && edit == Edit.Remove) continue;
                for (int copy = 0; copy < (target && edit == Edit.Duplicate ? 2 : 1); copy++)
                {
                    Text.Append(' ', indent);
                    Text.Append(target && edit == Edit.Rename ? Keys[how % (uint)Keys.Length] : Flow(key));
                    Text.Append(':');
                    if (value is YamlMappingNode { Children.Count: > 0 } inner && !target && _open.Add(inner))
                    {
                        Text.Append('\n');
                        Block(inner, indent + 2);
                        _open.Remove(inner);
                    }
                    else
                    {
                        Text.Append(' ');
                        Value(value, mapping, key);
                        Text.Append('\n');
                    }
                }
            }
        }

        void Value(YamlNode node, YamlNode? parent, object? key)
        {
            if (!IsTarget(parent, key) || edit is Edit.Remove or Edit.Duplicate or Edit.Rename)
            {
                Text.Append(Flow(node));
                return;
            }
            switch (edit)
            {
                case Edit.OtherType: Text.Append(Values[how % (uint)Values.Length]); break;
                case Edit.Number: Text.Append(Fragments.Numbers[how % (uint)Fragments.Numbers.Length]); break;
                case Edit.Nest:
                    int depth = Fragments.Depths[how % (uint)Fragments.Depths.Length];
                    bool maps = how / (uint)Fragments.Depths.Length % 2 == 1;
                    for (int i = 0; i < depth; i++) Text.Append(maps ? "{a: " : "[");
                    Text.Append(Flow(node));
                    for (int i = 0; i < depth; i++) Text.Append(maps ? '}' : ']');
                    break;
                case Edit.Text: Text.Append('"').Append(Fragments.Strings[how % (uint)Fragments.Strings.Length]).Append('"'); break;
                default: Text.Append(Swapped(node)); break;
            }
        }

        string Swapped(YamlNode node) => node switch
        {
            YamlScalarNode s => $"[{Flow(s)}]",
            YamlSequenceNode q => "{" + string.Join(", ", q.Children.Select((c, i) => $"k{i}: {Flow(c)}")) + "}",
            YamlMappingNode m => "[" + string.Join(", ", m.Children.Select(c => Flow(c.Value))) + "]",
            _ => "~",
        };

        /// <summary>A node in flow style; mutations inside it (a nested target) are applied too.</summary>
        string Flow(YamlNode node)
        {
            if (!_open.Add(node)) return "~";   // a recursive alias: write it once
            try
            {
                switch (node)
                {
                    case YamlScalarNode s:
                        return Scalar(s);
                    case YamlSequenceNode q:
                        var items = new List<string>();
                        for (int i = 0; i < q.Children.Count; i++)
                        {
                            if (IsTarget(q, i) && edit == Edit.Remove) continue;
                            items.Add(Nested(q.Children[i], q, i));
                            if (IsTarget(q, i) && edit == Edit.Duplicate) items.Add(Nested(q.Children[i], q, i));
                        }
                        return "[" + string.Join(", ", items) + "]";
                    case YamlMappingNode m:
                        var entries = new List<string>();
                        foreach (var (k, v) in m.Children)
                        {
                            bool target = IsTarget(m, k);
                            if (target && edit == Edit.Remove) continue;
                            string written = (target && edit == Edit.Rename ? Keys[how % (uint)Keys.Length] : Flow(k)) + ": " + Nested(v, m, k);
                            entries.Add(written);
                            if (target && edit == Edit.Duplicate) entries.Add(written);
                        }
                        return "{" + string.Join(", ", entries) + "}";
                    default:
                        return "~";
                }
            }
            finally
            {
                _open.Remove(node);
            }
        }

        string Nested(YamlNode node, YamlNode parent, object key)
        {
            var saved = Text.Length;
            Value(node, parent, key);
            string written = Text.ToString(saved, Text.Length - saved);
            Text.Length = saved;
            return written;
        }

        static string Scalar(YamlScalarNode s)
        {
            string value = s.Value ?? "";
            bool plain = s.Style is ScalarStyle.Plain or ScalarStyle.Any && value.Length > 0 &&
                         value.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-' or '/' or '+') && value[0] != '-';
            if (plain || (s.Style == ScalarStyle.Plain && value.Length == 0)) return value;
            var quoted = new StringBuilder("\"");
            foreach (char c in value)
                quoted.Append(c switch
                {
                    '"' => "\\\"", '\\' => "\\\\", '\n' => "\\n", '\r' => "\\r", '\t' => "\\t",
                    _ when char.IsControl(c) || char.IsSurrogate(c) => $"\\u{(int)c:X4}",
                    _ => c.ToString(),
                });
            return quoted.Append('"').ToString();
        }
    }
}
