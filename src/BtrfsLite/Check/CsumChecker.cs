namespace BtrfsLite.Check;

// Placeholder: filled in by the phase's implementation.
internal static class CsumChecker
{
    public static void Run(CheckContext ctx) { }
}
