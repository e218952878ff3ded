import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The built app goes inside the Python package, which `convscope serve` serves at /.
export default defineConfig({
  plugins: [react()],
  base: "./",
  build: { outDir: "../src/convscope/webapp", emptyOutDir: true, chunkSizeWarningLimit: 2000 },
  server: { proxy: { "/api": "http://127.0.0.1:8000", "/docs": "http://127.0.0.1:8000" } },
  test: { environment: "jsdom", include: ["src/**/*.test.{ts,tsx}"] },
});
