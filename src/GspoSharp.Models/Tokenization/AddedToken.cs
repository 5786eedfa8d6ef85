namespace GspoSharp.Models.Tokenization;

/// <summary>One entry of the "added_tokens" list of a tokenizer.json.</summary>
/// <param name="Id">Its id.</param>
/// <param name="Content">The text that stands for it.</param>
/// <param name="SingleWord">Matches only when not preceded or followed by a word character.</param>
/// <param name="LStrip">Absorbs the whitespace on its left.</param>
/// <param name="RStrip">Absorbs the whitespace on its right.</param>
/// <param name="Normalized">Is matched in the normalized text (else in the text as written).</param>
/// <param name="Special">Is a control token, such as an end of turn (decoding can skip these).</param>
public sealed record AddedToken(int Id, string Content, bool SingleWord, bool LStrip, bool RStrip, bool Normalized, bool Special);
