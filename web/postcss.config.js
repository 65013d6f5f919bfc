// PostCSS runs Tailwind (utility classes) and Autoprefixer on src/styles.css
// during `vite build` and `vite` (dev); see docs/web.md.
export default {
  plugins: {
    tailwindcss: {},
    autoprefixer: {},
  },
};
