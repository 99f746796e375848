namespace MiniDocker.Runtime;

/// <summary>Signal names as `kill -s` takes them: KILL, SIGKILL, kill or 9.</summary>
public static class Signals
{
    private static readonly Dictionary<string, int> Numbers = new(StringComparer.Ordinal)
    {
        ["HUP"] = 1, ["INT"] = 2, ["QUIT"] = 3, ["ILL"] = 4, ["TRAP"] = 5, ["ABRT"] = 6, ["IOT"] = 6, ["BUS"] = 7,
        ["FPE"] = 8, ["KILL"] = 9, ["USR1"] = 10, ["SEGV"] = 11, ["USR2"] = 12, ["PIPE"] = 13, ["ALRM"] = 14,
        ["TERM"] = 15, ["STKFLT"] = 16, ["CHLD"] = 17, ["CONT"] = 18, ["STOP"] = 19, ["TSTP"] = 20, ["TTIN"] = 21,
        ["TTOU"] = 22, ["URG"] = 23, ["XCPU"] = 24, ["XFSZ"] = 25, ["VTALRM"] = 26, ["PROF"] = 27, ["WINCH"] = 28,
        ["IO"] = 29, ["POLL"] = 29, ["PWR"] = 30, ["SYS"] = 31,
    };

    public const int SigRtMin = 34, SigRtMax = 64;

    public static int Parse(string text)
    {
        if (int.TryParse(text, out int n))
            return n is >= 1 and <= SigRtMax ? n : throw Invalid(text);
        string name = text.ToUpperInvariant();
        if (name.StartsWith("SIG", StringComparison.Ordinal)) name = name[3..];
        if (Numbers.TryGetValue(name, out n)) return n;
        // RTMIN+3, RTMAX-1 as bash's kill -l names them.
        if (name.StartsWith("RTMIN", StringComparison.Ordinal) && Offset(name[5..], '+') is int up && SigRtMin + up <= SigRtMax)
            return SigRtMin + up;
        if (name.StartsWith("RTMAX", StringComparison.Ordinal) && Offset(name[5..], '-') is int down && SigRtMax - down >= SigRtMin)
            return SigRtMax - down;
        throw Invalid(text);
    }

    /// <summary>"" is 0; otherwise <paramref name="sign"/> and a number.</summary>
    private static int? Offset(string rest, char sign) =>
        rest.Length == 0 ? 0 : rest[0] == sign && int.TryParse(rest[1..], out int v) && v >= 0 ? v : null;

    private static ContainerException Invalid(string text) => new($"invalid signal: {text}", 1);
}
