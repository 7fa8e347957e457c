/* /docs: Swagger UI from this server (vendored), in a file of its own because the page's
   Content-Security-Policy allows no inline script. */
window.addEventListener("DOMContentLoaded", function () {
  "use strict";
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null, // never send the description to swagger.io
  });
});
