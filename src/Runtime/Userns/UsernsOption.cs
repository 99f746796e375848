namespace MiniDocker.Runtime.Userns;

/// <summary>`run --userns`: host (the default: the host's ids, as Docker without userns-remap), auto, or
/// auto:size=N (Podman's syntax) for a range of N ids instead of <see cref="IdRanges.DefaultSize"/>.</summary>
public static class UsernsOption
{
    public static (string? Mode, int Size) Parse(string? value, bool privileged, string networkMode)
    {
        if (string.IsNullOrEmpty(value)) return (null, 0);
        if (value == "host") return ("host", 0);
        int size;
        if (value == "auto") size = IdRanges.DefaultSize;
        else if (value.StartsWith("auto:size=", StringComparison.Ordinal) && int.TryParse(value["auto:size=".Length..], out size) && size > 0) { }
        else throw new ContainerException($"invalid --userns \"{value}\": use host, auto or auto:size=N (N > 0)");
        // Docker's refusals of the same pairs with userns-remap.
        if (privileged)
            throw new ContainerException("privileged mode is incompatible with user namespaces: use --userns=host with --privileged");
        if (networkMode == "host")
            throw new ContainerException("cannot share the host's network namespace when user namespaces are enabled: use --userns=host with --network host");
        return (value, size);
    }
}
