using GspoSharp.Models.Tokenization;
using GspoSharp.Rollout;
using GspoSharp.Serving.Engine;

namespace GspoSharp.Serving.Http;

/// <summary>What one choice (sequence) of a response has accumulated: its tokens, log-probs and end,
/// and how much of its text a stream has sent.</summary>
internal sealed class ChoiceState(int index, long[] promptIds)
{
    public int Index { get; } = index;
    public long[] PromptIds { get; } = promptIds;
    public List<long> Tokens { get; } = new();
    public List<float> LogProbs { get; } = new();
    public List<(long Id, float LogProb)[]?> Top { get; } = new();
    public FinishReason? Finish { get; private set; }
    public object? StopReason { get; private set; }
    public int Sent { get; set; }
    public int TokensSent { get; set; }

    public void Add(TokenEvent e)
    {
        Tokens.Add(e.Token);
        LogProbs.Add(e.LogProb);
        Top.Add(e.Top);
        if (e.Finish is { } f) (Finish, StopReason) = (f, e.StopReason);
    }

    /// <summary>The text so far, cut at a stop string.</summary>
    public string Text(HfTokenizer tokenizer, SequenceParams p) => StopText.Cut(StopText.Decode(tokenizer, Tokens, p), p).Text;

    /// <summary>The part of the text a stream can send now (all of it once the choice has finished).</summary>
    public string TakeDelta(HfTokenizer tokenizer, SequenceParams p)
    {
        string text = Text(tokenizer, p);
        int ready = Finish is null ? StopText.Ready(text, p) : text.Length;
        if (ready <= Sent) return "";
        string delta = text[Sent..ready];
        Sent = ready;
        return delta;
    }

    public string? FinishName => Finish switch { FinishReason.Stop => "stop", FinishReason.Length => "length", _ => null };
}
