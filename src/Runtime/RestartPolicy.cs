namespace MiniDocker.Runtime;

/// <summary>`--restart no|on-failure[:N]|always`, carried out by a detached container's monitor.</summary>
public sealed class RestartPolicy
{
    public const string No = "no", OnFailure = "on-failure", Always = "always";

    /// <summary>Docker's names: "no", "on-failure", "always".</summary>
    public string Name { get; set; } = No;
    /// <summary>For on-failure: how many restarts at most (0: no limit).</summary>
    public int MaximumRetryCount { get; set; }

    public static RestartPolicy Parse(string? text)
    {
        if (string.IsNullOrEmpty(text) || text == No) return new RestartPolicy();
        string[] parts = text.Split(':', 2);
        switch (parts[0])
        {
            case Always when parts.Length == 1:
                return new RestartPolicy { Name = Always };
            case Always:
                throw new ContainerException($"invalid restart policy \"{text}\": maximum retry count cannot be used with restart policy 'always'");
            case OnFailure when parts.Length == 1:
                return new RestartPolicy { Name = OnFailure };
            case OnFailure when int.TryParse(parts[1], out int n) && n >= 0:
                return new RestartPolicy { Name = OnFailure, MaximumRetryCount = n };
            case OnFailure:
                throw new ContainerException($"invalid restart policy \"{text}\": maximum retry count must be a number of 0 or more");
            default:
                throw new ContainerException($"invalid restart policy \"{text}\": use no, on-failure[:max-retries] or always");
        }
    }

    /// <summary>Whether a container that exited with <paramref name="exitCode"/> after <paramref name="restartCount"/>
    /// restarts starts again. A container the user stopped never does.</summary>
    public bool ShouldRestart(int exitCode, int restartCount, bool stopRequested) => !stopRequested && Name switch
    {
        Always => true,
        OnFailure => exitCode != 0 && (MaximumRetryCount == 0 || restartCount < MaximumRetryCount),
        _ => false,
    };

    /// <summary>Docker's back-off: 100 ms doubling with each quick failure in a row, at most a minute, so a program
    /// that crashes at once does not spin.</summary>
    public static TimeSpan Delay(int quickFailuresInARow) =>
        TimeSpan.FromMilliseconds(Math.Min(60_000, 100.0 * Math.Pow(2, Math.Min(quickFailuresInARow, 16))));

    public override string ToString() => Name == OnFailure && MaximumRetryCount > 0 ? $"{Name}:{MaximumRetryCount}" : Name;
}
