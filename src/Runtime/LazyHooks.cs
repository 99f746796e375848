using System.Collections;

namespace MiniDocker.Runtime;

/// <summary>Hooks built on first use: most verbs never need them (a `ps` that finds no crashed container), and building
/// the network side costs a firewall detection.</summary>
public sealed class LazyHooks(Func<IReadOnlyList<IContainerHook>> build) : IReadOnlyList<IContainerHook>
{
    private readonly Lazy<IReadOnlyList<IContainerHook>> _hooks = new(build);

    public IContainerHook this[int index] => _hooks.Value[index];
    public int Count => _hooks.Value.Count;
    public IEnumerator<IContainerHook> GetEnumerator() => _hooks.Value.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
