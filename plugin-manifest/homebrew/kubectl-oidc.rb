# Homebrew formula for kubectl-oidc, written by `npm run release` (scripts/release.mjs): do not edit by hand.
# Install: brew install --formula ./kubectl-oidc.rb (or from a tap that carries this file).
class KubectlOidc < Formula
  desc "OIDC login for kubectl: an exec credential plugin and a per-user token agent"
  homepage "https://github.com/kubectl-oidc/kubectl-oidc"
  version "0.1.0"
  license "Apache-2.0"

  on_macos do
    on_arm do
      url "https://github.com/kubectl-oidc/kubectl-oidc/releases/download/v0.1.0/kubectl-oidc_0.1.0_darwin_arm64.tar.gz"
      sha256 "645cc351fb74e336ccceb6e796fa4750d175eebe3379c289976fb932ab5d2211"
    end
    on_intel do
      url "https://github.com/kubectl-oidc/kubectl-oidc/releases/download/v0.1.0/kubectl-oidc_0.1.0_darwin_amd64.tar.gz"
      sha256 "02147809e060a16a95b4774a40a1b572880fcf52a13c36c2c747722a394c2f35"
    end
  end

  on_linux do
    on_arm do
      url "https://github.com/kubectl-oidc/kubectl-oidc/releases/download/v0.1.0/kubectl-oidc_0.1.0_linux_arm64.tar.gz"
      sha256 "a36fe6f67d095c14bdcdbdf422002cc7b3253349b477d5e5566fc32949a842dc"
    end
    on_intel do
      url "https://github.com/kubectl-oidc/kubectl-oidc/releases/download/v0.1.0/kubectl-oidc_0.1.0_linux_amd64.tar.gz"
      sha256 "b5c7406e3ca46f8f8e9dc5fffe258680f7a0d2d6c8791dc983d7e0d896227ed2"
    end
  end

  def install
    libexec.install "kubectl-oidc", "keyring.node"
    bin.install_symlink libexec/"kubectl-oidc"
    doc.install "README.md", "THIRD-PARTY-NOTICES.md"
  end

  def caveats
    <<~EOS
      Add a kubeconfig user with `kubectl oidc setup`; its exec command is kubectl-oidc.
      `kubectl oidc agent install` starts the token agent at login.
    EOS
  end

  test do
    assert_equal "kubectl-oidc #{version}\n", shell_output("#{bin}/kubectl-oidc --version")
  end
end
