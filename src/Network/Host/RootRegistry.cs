using MiniDocker.Linux;
namespace MiniDocker.Network;

/// <summary>
/// Host-wide record of the state roots that put bridges or rules on this host: one file per scope under
/// /run/minidocker/roots, holding the root's path. Host objects carry only the scope (a hash of the path), so this is
/// how `network reconcile --orphans` learns which root a tag belongs to and whether that root still exists. /run is
/// emptied at boot, like the bridges and rules it describes. The default root (scope "") needs no file.
/// </summary>
public sealed class RootRegistry(string directory = RootRegistry.DefaultDirectory)
{
    public const string DefaultDirectory = "/run/minidocker/roots";

    /// <summary>Records <paramref name="stateRoot"/> unless it is recorded already (one stat on the common path).</summary>
    public void Register(string stateRoot)
    {
        string full = Path.GetFullPath(stateRoot).TrimEnd('/');
        string scope = NetworkStore.ScopeOf(full);
        if (scope.Length == 0) return;
        string file = Path.Combine(directory, scope);
        if (File.Exists(file) && File.ReadAllText(file) == full) return;
        AtomicFile.Write(file, System.Text.Encoding.UTF8.GetBytes(full), fsyncDirectory: true);
    }

    /// <summary>The root recorded for <paramref name="scope"/>, or null when it is not known.</summary>
    public string? RootOf(string scope)
    {
        if (scope.Length == 0) return NetworkStore.DefaultStateRoot;
        if (!IsScope(scope)) return null;
        string file = Path.Combine(directory, scope);
        try { return File.ReadAllText(file); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return null; }
    }

    /// <summary>Whether the root of <paramref name="scope"/> is known and gone: only then are its objects orphans.
    /// An unknown scope (objects made before roots were recorded) is never taken for one.</summary>
    public bool IsGone(string scope) => RootOf(scope) is { } root && !Directory.Exists(root);

    public void Forget(string stateRoot)
    {
        string scope = NetworkStore.ScopeOf(stateRoot);
        if (scope.Length > 0) AtomicFile.Delete(Path.Combine(directory, scope), fsyncDirectory: true);
    }

    public void ForgetScope(string scope)
    {
        if (IsScope(scope)) AtomicFile.Delete(Path.Combine(directory, scope), fsyncDirectory: true);
    }

    /// <summary>Every recorded scope.</summary>
    public IReadOnlyList<string> Scopes() =>
        Directory.Exists(directory) ? Directory.GetFiles(directory).Select(Path.GetFileName).OfType<string>().Where(IsScope).ToList() : [];

    private static bool IsScope(string scope) => scope.Length == 8 && scope.All(char.IsAsciiHexDigitLower);
}
