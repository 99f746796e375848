namespace MiniDocker.Images;

/// <summary>Names from an archive or the disk, made fit for a one-line error message.</summary>
internal static class Display
{
    private const int Head = 64, Tail = 24;

    /// <summary>
    /// Control characters become '?' (an entry name may hold a newline) and a long name keeps its head and tail
    /// with its length: a 10 000-component path must not turn the error into 20 KB.
    /// </summary>
    public static string Name(string raw)
    {
        var clean = string.Create(raw.Length, raw, (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
                span[i] = char.IsControl(source[i]) ? '?' : source[i];
        });
        return clean.Length <= Head + Tail + 16
            ? clean
            : $"{clean[..Head]}...{clean[^Tail..]} ({System.Text.Encoding.UTF8.GetByteCount(raw)} bytes)";
    }
}
